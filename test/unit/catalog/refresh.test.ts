import { describe, expect, it } from 'vitest';
import { Catalog, defaultCatalog, type ProviderModelInfo, type StoredCatalog } from '../../../shared/catalog';
import type { EventPublisher, TunedropEvent } from '../../../shared/events';
import { channelWants, describeEvent, isQuietByDefault, selectChannels } from '../../../shared/notify';
import { type CatalogStore, catalogFrom, refreshCatalog } from '../../../shared/pipeline/catalogRefresh';
import type { TeamConfig } from '../../../shared/pipeline/teams';

const MISTRAL = 'mistralai/Mistral-7B-Instruct-v0.2';
const LLAMA = 'meta-llama/Meta-Llama-3.1-8B-Instruct';

const seedList = (): ProviderModelInfo[] =>
  defaultCatalog.supported().map((m) => ({ name: m.id, maxContextLength: m.maxContextLength }));

function memoryStore(initial?: StoredCatalog): CatalogStore & { value?: StoredCatalog; writes: number } {
  const store = {
    value: initial,
    writes: 0,
    async read() {
      return store.value;
    },
    async write(c: StoredCatalog) {
      store.writes++;
      store.value = c;
    },
  };
  return store;
}

function collectingPublisher(): EventPublisher & { events: TunedropEvent[] } {
  const events: TunedropEvent[] = [];
  return { events, publish: async (e) => void events.push(e) };
}

const team = (id: string, allowedModels: string[]): TeamConfig => ({
  team: id,
  allowedModels,
  provider: 'databricks',
  allowedRegisterTo: [`ml.${id}`],
  defaults: {},
  maxDataFileBytes: 1024,
  channels: [],
});

const TEAMS = [team('support', [MISTRAL, LLAMA]), team('vision', [LLAMA]), team('all', ['*'])];

function deps(list: () => ProviderModelInfo[] | Promise<ProviderModelInfo[]>, store: CatalogStore, at: string) {
  const publisher = collectingPublisher();
  return {
    publisher,
    run: () =>
      refreshCatalog({
        provider: { name: 'databricks', listModels: async () => list() },
        store,
        teams: async () => TEAMS,
        publisher,
        now: () => new Date(at),
      }),
  };
}

describe('refreshCatalog', () => {
  it('first refresh equal to the seed table: stored, nothing published', async () => {
    const store = memoryStore();
    const d = deps(seedList, store, '2026-11-29T03:00:00Z');
    const outcome = await d.run();
    expect(outcome).toMatchObject({ outcome: 'refreshed', published: 0 });
    expect(store.value?.refreshedAt).toBe('2026-11-29T03:00:00.000Z');
    expect(d.publisher.events).toEqual([]);
  });

  it('a removed model: one catalog.changed per team, naming it for the teams that were allowed it; told once', async () => {
    const store = memoryStore();
    await deps(seedList, store, '2026-11-29T03:00:00Z').run();
    const without = () => seedList().filter((m) => m.name !== MISTRAL);
    const d = deps(without, store, '2026-11-30T03:00:00Z');
    const outcome = await d.run();
    expect(outcome).toMatchObject({ outcome: 'refreshed', diff: { removed: [MISTRAL], added: [] }, published: 3 });
    const byTeam = Object.fromEntries(d.publisher.events.map((e) => [e.team, e]));
    expect(byTeam.support?.data).toMatchObject({
      removed: [MISTRAL],
      allowedModelsRemoved: [MISTRAL],
      refreshedAt: '2026-11-30T03:00:00.000Z',
      previousRefreshedAt: '2026-11-29T03:00:00.000Z',
    });
    expect(byTeam.vision?.data).toMatchObject({ allowedModelsRemoved: [] });
    expect(byTeam.all?.data).toMatchObject({ allowedModelsRemoved: [MISTRAL] });
    for (const e of d.publisher.events)
      expect(e).toMatchObject({ type: 'tunedrop.catalog.changed', subject: 'catalog' });

    // The next refreshes (daily, or at start) see the same list: nobody is told again.
    const again = deps(without, store, '2026-12-01T03:00:00Z');
    expect(await again.run()).toMatchObject({ outcome: 'refreshed', published: 0 });
    expect(again.publisher.events).toEqual([]);
  });

  it('a crash between publishing and storing republishes the same event ids (deduplicated downstream)', async () => {
    const initial: StoredCatalog = {
      version: 1,
      provider: 'databricks',
      refreshedAt: '2026-11-29T03:00:00.000Z',
      models: seedList(),
    };
    const failing = memoryStore(initial);
    failing.write = async () => {
      throw new Error('storage unavailable');
    };
    const without = () => seedList().filter((m) => m.name !== MISTRAL);
    const first = deps(without, failing, '2026-11-30T03:00:00Z');
    await expect(first.run()).rejects.toThrow('storage unavailable');
    const store = memoryStore(initial);
    const second = deps(without, store, '2026-11-30T09:00:00Z');
    await second.run();
    expect(second.publisher.events.map((e) => e.id)).toEqual(first.publisher.events.map((e) => e.id));
  });

  it('the provider failing, or answering no models, keeps the last good copy', async () => {
    const initial: StoredCatalog = {
      version: 1,
      provider: 'databricks',
      refreshedAt: '2026-11-29T03:00:00.000Z',
      models: seedList().filter((m) => m.name !== MISTRAL),
    };
    const store = memoryStore(initial);
    const down = deps(
      () => {
        throw new Error('HTTP 503');
      },
      store,
      '2026-11-30T03:00:00Z',
    );
    expect(await down.run()).toMatchObject({ outcome: 'kept', reason: expect.stringContaining('HTTP 503') });
    const empty = deps(() => [], store, '2026-11-30T03:00:00Z');
    expect(await empty.run()).toMatchObject({ outcome: 'kept', reason: expect.stringContaining('no models') });
    expect(store.writes).toBe(0);
    expect(store.value).toBe(initial);
    expect(down.publisher.events).toEqual([]);
  });

  it('context length changes and additions are announced; the catalog follows the new length', async () => {
    const store = memoryStore();
    await deps(seedList, store, '2026-11-29T03:00:00Z').run();
    const changed = () => [
      ...seedList().map((m) => (m.name === LLAMA ? { ...m, maxContextLength: 65536 } : m)),
      { name: 'meta-llama/Llama-3.3-70B-Instruct', maxContextLength: 131072 },
    ];
    const d = deps(changed, store, '2026-11-30T03:00:00Z');
    await d.run();
    expect(d.publisher.events[0]?.data).toMatchObject({
      added: ['meta-llama/Llama-3.3-70B-Instruct'],
      contextLengthChanged: [{ model: LLAMA, from: 131072, to: 65536 }],
      allowedModelsRemoved: [],
    });
    expect(catalogFrom(store.value).find(LLAMA)?.maxContextLength).toBe(65536);
  });
});

describe('the refreshed catalog', () => {
  const stored: StoredCatalog = {
    version: 1,
    provider: 'databricks',
    refreshedAt: '2026-11-30T03:00:00.000Z',
    models: seedList().filter((m) => m.name !== MISTRAL),
  };

  it('refuses a withdrawn model as model_not_supported, naming the refresh date', () => {
    const catalog = catalogFrom(stored);
    const lookup = catalog.lookup(MISTRAL);
    expect(lookup).toMatchObject({ ok: false, code: 'model_not_supported' });
    expect(lookup.ok ? '' : lookup.message).toContain('2026-11-30');
    expect(catalog.supported().map((m) => m.id)).not.toContain(MISTRAL);
    expect(catalog.lookup(LLAMA).ok).toBe(true);
  });

  it('says its source and age; the seed table is the fallback', () => {
    expect(catalogFrom(stored).describeSource(new Date('2026-11-30T08:00:00Z'))).toBe(
      'provider, refreshed 2026-11-30T03:00:00.000Z (5 h ago)',
    );
    const seed = catalogFrom(undefined);
    expect(seed).toBe(defaultCatalog);
    expect(seed.describeSource()).toMatch(/^seed table/);
    expect(seed.lookup(MISTRAL).ok).toBe(true);
    expect(new Catalog().withProviderModels(stored.models).lookup(MISTRAL).ok).toBe(true);
  });
});

describe('catalog.changed notices', () => {
  it('a team whose allowed model disappeared is told on its default channels; other teams only if they asked', async () => {
    const store = memoryStore();
    await deps(seedList, store, '2026-11-29T03:00:00Z').run();
    const d = deps(() => seedList().filter((m) => m.name !== MISTRAL), store, '2026-11-30T03:00:00Z');
    await d.run();
    const support = d.publisher.events.find((e) => e.team === 'support');
    const vision = d.publisher.events.find((e) => e.team === 'vision');
    if (!support || !vision) throw new Error('events missing');
    const defaults = { name: 'c', kind: 'teams' as const, url: 'https://example.com/hook' };
    expect(selectChannels([defaults], undefined, support.type, isQuietByDefault(support))).toHaveLength(1);
    expect(selectChannels([defaults], undefined, vision.type, isQuietByDefault(vision))).toHaveLength(0);
    expect(channelWants({ events: ['tunedrop.catalog.changed'] }, vision.type, isQuietByDefault(vision))).toBe(true);
    const notice = describeEvent(support, undefined);
    expect(notice).toMatchObject({ outcome: 'warning', title: 'A model your team may train was removed' });
    expect(notice.reasons[0]).toContain(`${MISTRAL} is no longer offered`);
    expect(notice.reasons[0]).toContain('model_not_supported');
  });
});
