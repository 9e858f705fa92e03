import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultCatalog } from '../../../shared/catalog';
import { loadSettings, SettingsError } from '../../../shared/config/settings';
import { validateDataset } from '../../../shared/datasets';
import { InMemoryEventPublisher } from '../../../shared/events';
import { subscriptionMatches, TOPOLOGY } from '../../../shared/events/topology';
import { DEFAULT_SUBSCRIBED_EVENT_TYPES, EVENT_TYPES } from '../../../shared/events/types';
import { DataChangedError, type ShardResultStore } from '../../../shared/pipeline/ports';
import {
  digestDataFileActivity,
  MAX_SHARDS,
  mergeShardOutputs,
  planValidationShards,
  progressStep,
  recordValidationProgressActivity,
  type ShardedValidationDeps,
  type ShardedValidationInput,
  type ShardOutput,
  validateShardActivity,
  validationIdFor,
} from '../../../shared/pipeline/shardedValidation';
import { teamConfigSchema } from '../../../shared/pipeline/teams';
import type { RunRecord } from '../../../shared/registry/runIndex';

const MODEL = 'meta-llama/Meta-Llama-3.1-8B-Instruct';

function row(i: number, extra = ''): string {
  return JSON.stringify({
    messages: [
      { role: 'user', content: `Question ${i % 37}: how do I ${extra}rotate key ${i % 11}?` },
      { role: 'assistant', content: `Answer ${i % 37}. Use the portal, then restart (${i % 5}).` },
    ],
  });
}

/** Rows with duplicates far apart (i % 37 repeats), a bad line, a blank line and CRLF. */
function data(rows: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) lines.push(i === 7 ? 'not json' : i === 400 ? '' : row(i, i % 3 ? '' : 'really '));
  return Buffer.from(`\ufeff${lines.join('\r\n')}\n`);
}

class MemoryResults implements ShardResultStore {
  readonly blobs = new Map<string, Buffer>();
  async write(name: string, body: Buffer) {
    this.blobs.set(name, body);
  }
  async read(name: string) {
    return this.blobs.get(name);
  }
  async remove(prefix: string) {
    for (const k of [...this.blobs.keys()]) if (k.startsWith(prefix)) this.blobs.delete(k);
  }
}

function memoryDeps(files: Map<string, Buffer>, changed = new Set<string>()) {
  const runs = new Map<string, RunRecord>();
  const publisher = new InMemoryEventPublisher();
  const shardResults = new MemoryResults();
  const deps: ShardedValidationDeps = {
    drops: {
      openRange: async (name, start, options) => {
        if (options?.etag && changed.has(name)) throw new DataChangedError(name);
        return Readable.from([(files.get(name) ?? Buffer.alloc(0)).subarray(start)]);
      },
    },
    shardResults,
    runIndex: {
      get: async (id) => runs.get(id),
      upsert: async (r) => {
        runs.set(r.runId, { ...(runs.get(r.runId) as RunRecord), ...(r as RunRecord) });
      },
    },
    publisher,
    catalog: async () => defaultCatalog,
  };
  return { deps, runs, publisher, shardResults };
}

function inputFor(files: Map<string, Buffer>, shardBytes: number): ShardedValidationInput {
  return {
    validationId: validationIdFor('https://x/datasets/t/d/run.json', '"1"'),
    team: 't',
    dataset: 'd',
    drop: { url: 'https://x/datasets/t/d/run.json', etag: '"1"', content: Buffer.from('{}').toString('base64') },
    settings: { model: MODEL, task: 'chat', provider: 'databricks', registerTo: 'ml.t', contextLength: 4096 },
    files: [...files].map(([blobName, body], i) => ({
      name: blobName.split('/').pop() as string,
      blobName,
      size: body.length,
      etag: '"1"',
      role: i === 0 ? ('train' as const) : ('eval' as const),
    })),
    shardBytes,
    parallelism: 2,
    polling: { retryFirstSeconds: 1, retryAttempts: 2 },
  };
}

async function runShards(deps: ShardedValidationDeps, input: ShardedValidationInput, inlineLimit: number) {
  const plans = planValidationShards(input);
  const shards: ShardOutput[] = [];
  for (const plan of plans) {
    const file = input.files.find((f) => f.name === plan.file);
    if (!file) throw new Error('no file');
    shards.push(
      await validateShardActivity(deps, {
        validationId: input.validationId,
        settings: input.settings,
        file,
        plan,
        inlineLimit,
      }),
    );
  }
  const digests = await Promise.all(
    input.files.map((file) => digestDataFileActivity(deps, { validationId: input.validationId, file })),
  );
  return { shards, digests, plans };
}

describe('sharded validation activities (in memory)', () => {
  const files = new Map([
    ['t/d/train.jsonl', data(900)],
    ['t/d/eval.jsonl', data(120)],
  ]);

  it('shard results by reference (too big for an output) merge into exactly the single-pass report', async () => {
    const { deps, shardResults } = memoryDeps(files);
    const input = inputFor(files, 8192);
    const { shards, digests, plans } = await runShards(deps, input, 0);
    expect(plans.length).toBeGreaterThan(8);
    expect(shards.every((s) => s.kind === 'done' && s.ref && !s.result)).toBe(true);
    expect(shardResults.blobs.size).toBe(plans.length);
    const merged = await mergeShardOutputs(deps, input, digests, shards);
    const single = await validateDataset({
      model: MODEL,
      task: 'chat',
      contextLength: 4096,
      provider: 'databricks',
      catalog: defaultCatalog,
      files: input.files.map((f) => ({
        name: f.name,
        size: f.size,
        role: f.role,
        open: () => Readable.from([files.get(f.blobName) as Buffer]),
      })),
    });
    const { durationMs: _a, ...mergedReport } = merged.report as Record<string, unknown>;
    const { durationMs: _b, ...singleReport } = single as unknown as Record<string, unknown>;
    expect(mergedReport).toEqual(singleReport);
    expect(single.warningCounts.duplicate_examples).toBeGreaterThan(100);
    expect(single.errorCounts.invalid_json).toBe(2);
  });

  it('small results travel inline and give the same report', async () => {
    const { deps, shardResults } = memoryDeps(files);
    const input = inputFor(files, 65_536);
    const byRef = await runShards(deps, input, 0);
    const inline = await runShards(memoryDeps(files).deps, input, 10_000_000);
    expect(inline.shards.every((s) => s.kind === 'done' && s.result && !s.ref)).toBe(true);
    const a = (await mergeShardOutputs(deps, input, byRef.digests, byRef.shards)).report;
    const b = (await mergeShardOutputs(deps, input, inline.digests, inline.shards)).report;
    expect({ ...a, durationMs: 0 }).toEqual({ ...b, durationMs: 0 });
    await shardResults.remove(`${input.validationId}/`);
    expect(shardResults.blobs.size).toBe(0);
  });

  it('a file replaced mid-read is data_changed (not retried as a failure), for shards and digests', async () => {
    const { deps } = memoryDeps(files, new Set(['t/d/train.jsonl']));
    const input = inputFor(files, 65_536);
    const { shards, digests } = await runShards(deps, input, 0);
    expect(shards[0]).toEqual({ kind: 'data_changed', file: 'train.jsonl' });
    expect(digests[0]).toEqual({ kind: 'data_changed', file: 'train.jsonl' });
    expect(digests[1]).toMatchObject({ kind: 'done', file: 'eval.jsonl' });
  });

  it('progress marks the run validating once, publishes deterministic ids, and stops for a run already past validation', async () => {
    const { deps, runs, publisher } = memoryDeps(files);
    const p = {
      runId: 'run-1',
      validationId: 'validation-1',
      team: 't',
      dataset: 'd',
      model: MODEL,
      task: 'chat',
      manifestUrl: 'https://x/datasets/t/d/run.json',
      shardsDone: 2,
      shardsTotal: 10,
      bytesDone: 20,
      bytesTotal: 100,
      time: '2026-11-30T06:00:00.000Z',
    };
    expect(await recordValidationProgressActivity(deps, p)).toEqual({ tracking: true });
    expect(await recordValidationProgressActivity(deps, p)).toEqual({ tracking: true });
    expect(runs.get('run-1')?.status).toBe('validating');
    // The reconciler finds the orchestration of a run left `validating` by this id.
    expect(runs.get('run-1')?.validationId).toBe('validation-1');
    const ids = publisher.events.map((e) => e.id);
    expect(ids[0]).toBe(ids[1]);
    await recordValidationProgressActivity(deps, { ...p, shardsDone: 3 });
    expect(new Set(publisher.events.map((e) => e.id)).size).toBe(2);
    runs.set('run-1', { ...(runs.get('run-1') as RunRecord), status: 'running' });
    expect(await recordValidationProgressActivity(deps, { ...p, shardsDone: 4 })).toEqual({ tracking: false });
    expect(runs.get('run-1')?.status).toBe('running');
    expect(publisher.events).toHaveLength(3);
  });

  it('plans at most MAX_SHARDS shards and at most 20 progress steps', () => {
    const input = inputFor(new Map([['t/d/train.jsonl', Buffer.alloc(0)]]), 65_536);
    input.files[0] = { ...(input.files[0] as (typeof input.files)[number]), size: 10 * 1024 ** 4 };
    expect(planValidationShards(input).length).toBeLessThanOrEqual(MAX_SHARDS);
    const steps = new Set(Array.from({ length: 1000 }, (_, i) => progressStep(i, 1000)));
    expect(steps.size).toBe(20);
  });
});

describe('progress events reach no channel and only webhooks that ask for them', () => {
  const progress = 'tunedrop.dataset.validation.progress';
  const message = { contentType: 'application/cloudevents+json', applicationProperties: { type: progress, team: 't' } };

  it('notify-teams does not receive them; the webhooks subscription does (subscriptions filter)', () => {
    const sub = (name: string) => TOPOLOGY.subscriptions.find((s) => s.name === name);
    expect(subscriptionMatches(sub('notify-teams') as never, message)).toBe(false);
    expect(subscriptionMatches(sub('webhooks') as never, message)).toBe(true);
  });

  it('a webhook subscription without eventTypes gets every type but progress', () => {
    expect(DEFAULT_SUBSCRIBED_EVENT_TYPES).not.toContain(progress);
    expect(DEFAULT_SUBSCRIBED_EVENT_TYPES.length).toBe(EVENT_TYPES.length - 1);
  });

  it('a team channel cannot list progress events', () => {
    const team = {
      team: 't',
      allowedModels: ['*'],
      allowedRegisterTo: ['ml.t'],
      channels: [{ name: 'c', kind: 'teams', url: 'https://example.com/hook', events: [progress] }],
    };
    const parsed = teamConfigSchema.safeParse(team);
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toMatch(/not posted to channels/);
  });
});

describe('sharding settings', () => {
  const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };

  it('defaults: 1 GiB threshold, 256 MiB shards, 16 at once', () => {
    expect(loadSettings(base).sharding).toEqual({
      thresholdBytes: 1024 ** 3,
      shardBytes: 256 * 1024 ** 2,
      parallelism: 16,
    });
  });

  it('refuses bad values with invalid_settings naming the setting, never starting', () => {
    for (const [name, value] of [
      ['TUNEDROP_SHARD_BYTES', '1000'],
      ['TUNEDROP_SHARD_BYTES', '1e9'],
      ['TUNEDROP_SHARD_PARALLELISM', '0'],
      ['TUNEDROP_SHARD_PARALLELISM', '2.5'],
      ['TUNEDROP_SHARDED_VALIDATION_MIN_BYTES', '-1'],
    ] as const) {
      let caught: unknown;
      try {
        loadSettings({ ...base, [name]: value });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SettingsError);
      expect((caught as SettingsError).code).toBe('invalid_settings');
      expect((caught as SettingsError).problems.join('\n')).toContain(name);
    }
  });
});
