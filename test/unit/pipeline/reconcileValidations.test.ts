import { describe, expect, it } from 'vitest';
import {
  reconcileValidations,
  type ValidationInstanceStatus,
  type ValidationReconcileDeps,
} from '../../../shared/pipeline/reconcileValidations';
import {
  type FinishInput,
  type ShardedValidationInput,
  shardedValidationInputSchema,
} from '../../../shared/pipeline/shardedValidation';
import type { RunRecord } from '../../../shared/registry/runIndex';

const NOW = new Date('2026-11-30T07:00:00.000Z');
const VALIDATION = `validation-${'a'.repeat(32)}`;

const input: ShardedValidationInput = {
  validationId: VALIDATION,
  team: 'support',
  dataset: 'big',
  drop: { url: 'https://x/datasets/support/big/run.json', etag: '"1"', content: Buffer.from('{}').toString('base64') },
  settings: {
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    task: 'chat',
    provider: 'databricks',
    registerTo: 'ml.support',
  },
  files: [{ name: 'train.jsonl', blobName: 'support/big/train.jsonl', size: 1000, etag: '"2"', role: 'train' }],
  shardBytes: 65_536,
  parallelism: 4,
  polling: { retryFirstSeconds: 1, retryAttempts: 2 },
};

function run(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: 'run-1',
    team: 'support',
    dataset: 'big',
    model: input.settings.model,
    task: 'chat',
    status: 'validating',
    manifestUrl: input.drop.url,
    validationId: VALIDATION,
    createdAt: '2026-11-30T06:00:00.000Z',
    updatedAt: '2026-11-30T06:00:00.000Z',
    ...overrides,
  };
}

function harness(runs: RunRecord[], instances: Record<string, ValidationInstanceStatus>, pageSize = 100) {
  const index = new Map(runs.map((r) => [r.runId, r]));
  const finished: Array<{ input: ShardedValidationInput; outcome: FinishInput['outcome'] }> = [];
  const logs: string[] = [];
  const failFinishFor = new Set<string>();
  const deps: ValidationReconcileDeps = {
    runIndex: {
      // Continuation by key, as Azure Tables does: a page starts after the last key handed out.
      async list(query) {
        const after = query.continuationToken ?? '';
        const all = [...index.values()]
          .filter((r) => r.status === query.status && r.runId > after)
          .sort((a, b) => a.runId.localeCompare(b.runId));
        const page = all.slice(0, Math.min(pageSize, query.pageSize ?? pageSize));
        return { runs: page, continuationToken: all.length > page.length ? page.at(-1)?.runId : undefined };
      },
      async upsert(record) {
        index.set(record.runId, { ...(index.get(record.runId) as RunRecord), ...record });
      },
    },
    instances: { status: async (id) => instances[id] },
    async finish(i, outcome) {
      if (outcome.runId && failFinishFor.has(outcome.runId)) throw new Error('storage is down');
      finished.push({ input: i, outcome });
      const r = index.get(outcome.runId as string) as RunRecord;
      index.set(r.runId, { ...r, status: 'rejected', reason: outcome.code });
    },
    now: () => NOW,
    log: (m) => logs.push(m),
  };
  return { deps, index, finished, logs, failFinishFor };
}

describe('reconciling runs left validating by a sharded validation', () => {
  it('the test input is a valid orchestration input (else every case would take the index-only path)', () => {
    expect(shardedValidationInputSchema.parse(input)).toEqual(input);
  });

  it('an orchestration that failed (its finish out of retries) rejects the drop through the finish path, under the validating run id', async () => {
    const h = harness([run()], {
      [VALIDATION]: { runtimeStatus: 'Failed', input, output: 'finish: storage unavailable' },
    });
    const report = await reconcileValidations(h.deps);
    expect(report).toEqual({
      checked: 1,
      repaired: [{ runId: 'run-1', validationId: VALIDATION, instance: 'Failed', repairedBy: 'rejected' }],
      errors: [],
    });
    expect(h.finished).toHaveLength(1);
    expect(h.finished[0]?.input).toEqual(input);
    expect(h.finished[0]?.outcome).toMatchObject({ kind: 'failed', code: 'validation_failed', runId: 'run-1' });
    expect(h.finished[0]?.outcome.kind === 'failed' && h.finished[0].outcome.message).toMatch(
      /ended Failed before it finished \(finish: storage unavailable\)\. Upload run\.json again/,
    );
    expect(h.index.get('run-1')?.status).toBe('rejected');
    expect(h.logs[0]).toMatch(/run run-1 was validating .* Failed; now rejected \(rejected\)/);
  });

  it('a terminated orchestration is rejected too; a live one (Running, Pending, ContinuedAsNew, Suspended) is left alone', async () => {
    const live = ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'];
    const runs = [run(), ...live.map((_, i) => run({ runId: `live-${i}`, validationId: `live-${i}` }))];
    const instances: Record<string, ValidationInstanceStatus> = {
      [VALIDATION]: { runtimeStatus: 'Terminated', input },
    };
    live.forEach((s, i) => {
      instances[`live-${i}`] = { runtimeStatus: s, input };
    });
    const h = harness(runs, instances);
    const report = await reconcileValidations(h.deps);
    expect(report.checked).toBe(5);
    expect(report.repaired.map((r) => [r.runId, r.instance])).toEqual([['run-1', 'Terminated']]);
    expect(live.map((_, i) => h.index.get(`live-${i}`)?.status)).toEqual(live.map(() => 'validating'));
  });

  it('a missing orchestration waits out the grace period, then the index stops saying validating (nothing to report from)', async () => {
    const fresh = run({ runId: 'fresh', validationId: 'gone-1', updatedAt: '2026-11-30T06:55:00.000Z' });
    const old = run({ runId: 'old', validationId: 'gone-2', updatedAt: '2026-11-30T06:49:59.000Z' });
    const h = harness([fresh, old], {});
    const report = await reconcileValidations(h.deps);
    expect(report.repaired).toEqual([
      { runId: 'old', validationId: 'gone-2', instance: 'missing', repairedBy: 'index-only' },
    ]);
    expect(h.index.get('fresh')?.status).toBe('validating');
    expect(h.index.get('old')).toMatchObject({
      status: 'rejected',
      reason: 'validation_failed: the sharded validation gone-2 is missing; upload run.json again to retry',
      updatedAt: NOW.toISOString(),
    });
    expect(h.finished).toEqual([]);
    h.deps.missingGraceMs = 60_000;
    await reconcileValidations(h.deps);
    expect(h.index.get('fresh')?.status).toBe('rejected');
  });

  it('an ended orchestration whose input does not parse is repaired in the index only', async () => {
    const h = harness([run()], { [VALIDATION]: { runtimeStatus: 'Failed', input: { validationId: 'x' } } });
    const report = await reconcileValidations(h.deps);
    expect(report.repaired[0]?.repairedBy).toBe('index-only');
    expect(h.index.get('run-1')?.reason).toMatch(/is Failed/);
  });

  it('a validating run without a validation id, and runs in other statuses, are not touched', async () => {
    const h = harness([run({ validationId: undefined }), run({ runId: 'done', status: 'completed' })], {});
    const report = await reconcileValidations(h.deps);
    expect(report).toEqual({ checked: 1, repaired: [], errors: [] });
    expect(h.index.get('run-1')?.status).toBe('validating');
  });

  it('a repair that fails is reported and retried next pass; the other runs are still repaired, across pages', async () => {
    const runs = Array.from({ length: 5 }, (_, i) => run({ runId: `run-${i}`, validationId: `v-${i}` }));
    const instances = Object.fromEntries(runs.map((r) => [r.validationId, { runtimeStatus: 'Failed', input }]));
    const h = harness(runs, instances, 2);
    h.failFinishFor.add('run-2');
    const report = await reconcileValidations(h.deps);
    expect(report.checked).toBe(5);
    expect(report.errors).toEqual([{ runId: 'run-2', message: 'storage is down' }]);
    expect(report.repaired.map((r) => r.runId)).toEqual(['run-0', 'run-1', 'run-3', 'run-4']);
    h.failFinishFor.clear();
    const again = await reconcileValidations(h.deps);
    expect(again.repaired.map((r) => r.runId)).toEqual(['run-2']);
  });
});
