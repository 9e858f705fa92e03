import {
  type Catalog,
  type CatalogDiff,
  defaultCatalog,
  diffProviderModels,
  isEmptyDiff,
  type ProviderModelInfo,
  type StoredCatalog,
  storedCatalogSchema,
} from '../catalog';
import { createEvent, type EventPublisher, type TunedropEvent } from '../events';
import type { TeamConfigStore } from './ports';
import { loadTeamConfig, type TeamConfig } from './teams';

/** Where the last good copy of the provider's model list is kept (the config container). */
export const STORED_CATALOG_BLOB = 'catalog/provider-models.json';
/** The subject of catalog events (they concern no run). */
export const CATALOG_EVENT_SUBJECT = 'catalog';

/** The last good copy of the catalog, kept in storage. */
export interface CatalogStore {
  /** Undefined when there is none yet, or it is unreadable (then the seed table applies). */
  read(): Promise<StoredCatalog | undefined>;
  write(catalog: StoredCatalog): Promise<void>;
}

export interface CatalogRefreshDeps {
  provider: { name: string; listModels(): Promise<ProviderModelInfo[]> };
  store: CatalogStore;
  /** Every configured team (their allowed models decide who is told about a removal). */
  teams(): Promise<TeamConfig[]>;
  publisher: EventPublisher;
  /** The seed table (default: the built-in one). */
  seed?: Catalog;
  now(): Date;
  log?(message: string): void;
}

export type CatalogRefreshOutcome =
  | { outcome: 'refreshed'; refreshedAt: string; diff: CatalogDiff; published: number }
  | { outcome: 'kept'; reason: string; refreshedAt?: string };

/** The catalog validation uses: the seed table refreshed by the last good copy, when there is one. */
export function catalogFrom(stored: StoredCatalog | undefined, seed: Catalog = defaultCatalog): Catalog {
  return stored ? seed.withProviderModels(stored.models, stored.refreshedAt) : seed;
}

export async function loadCurrentCatalog(store: CatalogStore, seed: Catalog = defaultCatalog): Promise<Catalog> {
  return catalogFrom(await store.read(), seed);
}

/**
 * Refresh the catalog from the provider (getFinetuneConstants): compare with the last good copy
 * (or the seed table's supported models the first time), publish `tunedrop.catalog.changed` once
 * per configured team when something changed, then store the new copy. A failed or empty answer
 * keeps the last good copy. Publishing comes before storing, and the event id is derived from the
 * transition (previous refresh + change), so a crash between the two republishes the same ids:
 * each team hears of a change once.
 */
export async function refreshCatalog(deps: CatalogRefreshDeps): Promise<CatalogRefreshOutcome> {
  const seed = deps.seed ?? defaultCatalog;
  const previous = await deps.store.read();
  let reported: ProviderModelInfo[];
  try {
    reported = await deps.provider.listModels();
  } catch (err) {
    const reason = `the provider did not answer getFinetuneConstants: ${(err as Error).message}`;
    deps.log?.(
      `catalog refresh: ${reason}; keeping ${previous ? `the copy of ${previous.refreshedAt}` : 'the seed table'}`,
    );
    return { outcome: 'kept', reason, refreshedAt: previous?.refreshedAt };
  }
  const next = storedCatalogSchema.safeParse({
    version: 1,
    provider: deps.provider.name,
    refreshedAt: deps.now().toISOString(),
    models: reported,
  });
  if (!next.success) {
    const reason = `the provider's model list is not usable: ${next.error.issues.map((i) => i.message).join('; ')}`;
    deps.log?.(`catalog refresh: ${reason}; keeping the last good copy`);
    return { outcome: 'kept', reason, refreshedAt: previous?.refreshedAt };
  }
  const before =
    previous?.models ?? seed.supported().map((m) => ({ name: m.id, maxContextLength: m.maxContextLength }));
  const diff = diffProviderModels(before, next.data.models);
  let published = 0;
  if (!isEmptyDiff(diff)) {
    const events = changeEvents(await deps.teams(), diff, next.data, previous);
    for (const event of events) await deps.publisher.publish(event);
    published = events.length;
    deps.log?.(
      `catalog refresh: +${diff.added.length} −${diff.removed.length} ~${diff.contextLengthChanged.length}; told ${published} team(s)`,
    );
  }
  await deps.store.write(next.data);
  return { outcome: 'refreshed', refreshedAt: next.data.refreshedAt, diff, published };
}

function changeEvents(
  teams: readonly TeamConfig[],
  diff: CatalogDiff,
  next: StoredCatalog,
  previous: StoredCatalog | undefined,
): TunedropEvent[] {
  return teams.map((team) => {
    // "*" allowed every offered model, so every removal concerns the team.
    const allowsAll = team.allowedModels.includes('*');
    const allowedModelsRemoved = diff.removed.filter(
      (m) => allowsAll || team.allowedModels.some((a) => a.toLowerCase() === m.toLowerCase()),
    );
    return createEvent('tunedrop.catalog.changed', {
      subject: CATALOG_EVENT_SUBJECT,
      team: team.team,
      time: next.refreshedAt,
      data: {
        provider: next.provider,
        refreshedAt: next.refreshedAt,
        ...(previous ? { previousRefreshedAt: previous.refreshedAt } : {}),
        added: diff.added,
        removed: diff.removed,
        contextLengthChanged: diff.contextLengthChanged,
        allowedModelsRemoved,
      },
    });
  });
}

/** Every team with a valid configuration; invalid ones are skipped (and logged). */
export async function listTeamConfigs(
  store: TeamConfigStore & { teamIds(): Promise<string[]> },
  log?: (message: string) => void,
): Promise<TeamConfig[]> {
  const teams: TeamConfig[] = [];
  for (const id of await store.teamIds()) {
    const loaded = await loadTeamConfig(store, id);
    if (loaded.ok) teams.push(loaded.config);
    else log?.(`catalog refresh: skipping team ${id}: ${loaded.problem.message}`);
  }
  return teams;
}

/** Parse a stored copy; undefined (the seed table applies) when it is not a valid one. */
export function parseStoredCatalog(text: string, log?: (message: string) => void): StoredCatalog | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const parsed = storedCatalogSchema.safeParse(json);
  if (!parsed.success) {
    log?.(`catalog: ${STORED_CATALOG_BLOB} is not a valid stored catalog; using the seed table`);
    return undefined;
  }
  return parsed.data;
}
