import { Readable } from 'node:stream';
import { beforeEach, describe, expect, it } from 'vitest';
import { type DatasetEvent, handleDrop, type IntakeDeps, rejectionReason } from '../../../shared/pipeline/intake';
import type { DropStore, IntakeLog, ReportStore, RunStore, TeamConfigStore } from '../../../shared/pipeline/ports';
import type { TrainingRunInput } from '../../../shared/pipeline/runContracts';
import type { ShardedValidationInput } from '../../../shared/pipeline/shardedValidation';
import type { DropValidator, ValidationOutcome } from '../../../shared/pipeline/validation';
import type { RunRecord } from '../../../shared/registry/runIndex';

/** The ports in memory: intake's every branch without Azurite. */
class MemoryDrops implements DropStore {
  readonly files = new Map<string, Buffer>();
  async *list(prefix: string) {
    for (const [name, content] of [...this.files].sort(([a], [b]) => a.localeCompare(b))) {
      if (name.startsWith(prefix)) yield { name, size: content.length, etag: `"${content.length}"` };
    }
  }
  async open(name: string) {
    return Readable.from([this.files.get(name) ?? Buffer.alloc(0)]);
  }
  async openRange(name: string, start: number) {
    return Readable.from([(this.files.get(name) ?? Buffer.alloc(0)).subarray(start)]);
  }
  async read(name: string) {
    const content = this.files.get(name);
    return content ? { content, etag: 'e' } : undefined;
  }
  async etagOf(name: string) {
    return this.files.has(name) ? 'e' : undefined;
  }
  async write(name: string, content: Buffer) {
    this.files.set(name, content);
    return 'e';
  }
  url(name: string) {
    return `https://store.example/datasets/${name}`;
  }
}

class MemoryReports implements ReportStore {
  readonly written = new Map<string, { report: unknown; markdown: string }>();
  async write(folder: string, report: unknown, markdown: string) {
    this.written.set(folder, { report, markdown });
    return { json: `https://store.example/reports/${folder}/validation.json`, markdown: `${folder}/validation.md` };
  }
}

class MemoryRuns implements RunStore {
  readonly runs = new Map<string, RunRecord>();
  async get(runId: string) {
    return this.runs.get(runId);
  }
  async upsert(record: Partial<RunRecord> & { runId: string }) {
    this.runs.set(record.runId, { ...(this.runs.get(record.runId) ?? {}), ...record } as RunRecord);
  }
}

class MemoryIntakeLog implements IntakeLog {
  readonly handled = new Map<string, string>();
  async lookup(url: string, etag: string) {
    const runId = this.handled.get(`${url}#${etag}`);
    return runId === undefined ? undefined : { runId };
  }
  async remember(url: string, etag: string, runId: string) {
    this.handled.set(`${url}#${etag}`, runId);
  }
}

const TEAM = {
  team: 'support',
  allowedModels: ['meta-llama/Meta-Llama-3.1-8B-Instruct'],
  allowedRegisterTo: ['ml.support'],
  defaults: { registerTo: 'ml.support', trainingDuration: '2ep' },
  maxDataFileBytes: 100,
  channels: [],
};

const MANIFEST = {
  model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
  task: 'chat',
  train: 'train.jsonl',
};

const validOutcome: ValidationOutcome = {
  ok: true,
  report: { ok: true },
  markdown: '# ok\n',
  fileDigests: { 'train.jsonl': 'a'.repeat(64) },
  errorSummary: [],
};

let drops: MemoryDrops;
let reports: MemoryReports;
let runs: MemoryRuns;
let log: MemoryIntakeLog;
let teams: Map<string, string>;
let events: DatasetEvent[];
let started: TrainingRunInput[];
let validations: number;
let outcome: ValidationOutcome;

function deps(overrides: Partial<IntakeDeps> = {}): IntakeDeps {
  const teamStore: TeamConfigStore = { read: async (team) => teams.get(team) };
  const validate: DropValidator = async () => {
    validations += 1;
    return outcome;
  };
  return {
    drops,
    reports,
    teams: teamStore,
    runIndex: runs,
    intakeLog: log,
    validate,
    publishDatasetEvent: async (event) => {
      events.push(event);
    },
    startRun: async (input) => {
      started.push(input);
      return 'started';
    },
    polling: { initialSeconds: 30, maxSeconds: 600 },
    deadlineHours: 168,
    now: () => new Date('2026-11-30T00:00:00Z'),
    ...overrides,
  };
}

function drop(manifest: unknown, blobName = 'support/faq/run.json', etag = '"0x1"') {
  const content = Buffer.from(typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  return { blobName, url: `https://store.example/datasets/${blobName}`, etag, content };
}

beforeEach(() => {
  drops = new MemoryDrops();
  reports = new MemoryReports();
  runs = new MemoryRuns();
  log = new MemoryIntakeLog();
  teams = new Map([['support', JSON.stringify(TEAM)]]);
  events = [];
  started = [];
  validations = 0;
  outcome = validOutcome;
  drops.files.set('support/faq/train.jsonl', Buffer.from('{"messages":[]}\n'));
});

/** Every rejection leaves the same four traces, once each. */
function expectRejected(result: Awaited<ReturnType<typeof handleDrop>>, code: string) {
  expect(result).toMatchObject({ outcome: 'rejected', problems: [expect.objectContaining({ code })] });
  const runId = (result as { runId: string }).runId;
  expect(runs.runs.get(runId)).toMatchObject({ status: 'rejected', team: 'support', dataset: 'faq' });
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    type: 'tunedrop.dataset.rejected',
    runId,
    errors: [expect.objectContaining({ code })],
  });
  expect([...reports.written.keys()]).toEqual([`support/faq/${runId}`]);
  expect([...log.handled.values()]).toEqual([runId]);
  expect(started).toEqual([]);
  return runId;
}

describe('intake (in-memory ports)', () => {
  it('ignores a blob that is not team/dataset/run.json, touching nothing', async () => {
    const result = await handleDrop(deps(), drop(MANIFEST, 'support/faq/nested/run.json'));
    expect(result).toEqual({ outcome: 'ignored', reason: expect.stringContaining('is not a manifest') });
    expect(events).toEqual([]);
    expect(log.handled.size).toBe(0);
  });

  it('rejects an invalid team id before reading its configuration', async () => {
    const result = await handleDrop(deps(), drop(MANIFEST, 'Support_Team/faq/run.json'));
    expect(result).toMatchObject({ outcome: 'rejected', problems: [{ code: 'team_not_configured', count: 1 }] });
    expect(events[0]?.errors[0]?.message).toMatch(/not a valid team id/);
  });

  it('rejects a manifest that is not JSON with a report naming the problem; the model is unknown', async () => {
    const runId = expectRejected(await handleDrop(deps(), drop('{not json')), 'invalid_manifest');
    expect(runs.runs.get(runId)?.model).toBe('unknown');
    const report = reports.written.get(`support/faq/${runId}`);
    expect(report?.report).toMatchObject({ ok: false, rows: 0, errorCounts: { invalid_manifest: 1 } });
    expect(report?.markdown).toContain('| `invalid_manifest` |');
  });

  it('rejects a team without configuration, and one whose configuration names another team', async () => {
    teams.delete('support');
    expectRejected(await handleDrop(deps(), drop(MANIFEST)), 'team_not_configured');
    expect(events[0]?.errors[0]?.message).toMatch(/has no configuration/);

    beforeEachReset();
    teams.set('support', JSON.stringify({ ...TEAM, team: 'other' }));
    expectRejected(await handleDrop(deps(), drop(MANIFEST)), 'team_not_configured');
    expect(events[0]?.errors[0]?.message).toMatch(/it names team "other"/);
  });

  it('rejects a model the team may not train, naming the model; the run keeps the manifest model', async () => {
    const runId = expectRejected(
      await handleDrop(deps(), drop({ ...MANIFEST, model: 'mistralai/Mistral-7B-Instruct-v0.2' })),
      'model_not_allowed',
    );
    expect(runs.runs.get(runId)?.model).toBe('mistralai/Mistral-7B-Instruct-v0.2');
    expect(validations).toBe(0);
  });

  it('rejects missing data files and files over the team limit, all problems in one report', async () => {
    drops.files.clear();
    expectRejected(await handleDrop(deps(), drop({ ...MANIFEST, eval: 'eval.jsonl' })), 'data_file_missing');
    expect(events[0]?.errors).toEqual([expect.objectContaining({ code: 'data_file_missing', count: 2 })]);

    beforeEachReset();
    drops.files.set('support/faq/train.jsonl', Buffer.alloc(101));
    expectRejected(await handleDrop(deps(), drop(MANIFEST)), 'file_too_large');
    expect(validations).toBe(0);
  });

  it('refuses a workspace region that does not run the service', async () => {
    expectRejected(await handleDrop(deps({ region: 'westeurope' }), drop(MANIFEST)), 'region_not_supported');
  });

  it('rejects data that fails validation with the validator report, under the content-derived run id', async () => {
    outcome = {
      ok: false,
      report: { ok: false, errorCounts: { invalid_json: 3 } },
      markdown: '# invalid\n',
      fileDigests: { 'train.jsonl': 'b'.repeat(64) },
      errorSummary: [{ code: 'invalid_json', count: 3, message: 'line 1 is not JSON' }],
    };
    const runId = expectRejected(await handleDrop(deps(), drop(MANIFEST)), 'invalid_json');
    expect(reports.written.get(`support/faq/${runId}`)).toEqual({ report: outcome.report, markdown: '# invalid\n' });
    expect(events[0]?.errors).toEqual(outcome.errorSummary);
    expect(runs.runs.get(runId)?.model).toBe(MANIFEST.model);
    // The run says why, without the report (GET /api/runs/{id}, tunedrop runs show).
    expect(runs.runs.get(runId)?.reason).toBe('invalid_json ×3: line 1 is not JSON');
  });

  it('starts a valid drop once: the run record, dataset.validated, the orchestration input, the intake log', async () => {
    const result = await handleDrop(deps(), drop(MANIFEST));
    expect(result).toMatchObject({ outcome: 'started' });
    const runId = (result as { runId: string }).runId;
    expect(runs.runs.get(runId)).toMatchObject({ status: 'submitted', registerTo: 'ml.support' });
    expect(events.map((e) => e.type)).toEqual(['tunedrop.dataset.validated']);
    expect(started).toEqual([
      expect.objectContaining({
        runId,
        trainBlob: 'support/faq/train.jsonl',
        trainingDuration: '2ep',
        registerTo: 'ml.support',
        deadlineHours: 168,
      }),
    ]);
    expect(log.handled.get(`https://store.example/datasets/support/faq/run.json#"0x1"`)).toBe(runId);

    // The same manifest version again: nothing is done twice.
    expect(await handleDrop(deps(), drop(MANIFEST))).toEqual({ outcome: 'duplicate', runId });
    expect(validations).toBe(1);
    expect(started).toHaveLength(1);
  });

  it('a new version of the same bytes is the same run: already-running, the first createdAt kept', async () => {
    const first = await handleDrop(deps(), drop(MANIFEST));
    const runId = (first as { runId: string }).runId;
    const again = await handleDrop(
      deps({ startRun: async () => 'exists', now: () => new Date('2026-12-01T00:00:00Z') }),
      drop(MANIFEST, 'support/faq/run.json', '"0x2"'),
    );
    expect(again).toEqual({ outcome: 'already-running', runId });
    expect(runs.runs.get(runId)?.createdAt).toBe('2026-11-30T00:00:00.000Z');
    expect(events.map((e) => e.time)).toEqual(['2026-11-30T00:00:00.000Z', '2026-11-30T00:00:00.000Z']);
  });
});

function beforeEachReset() {
  events = [];
  started = [];
  reports.written.clear();
  log.handled.clear();
  runs.runs.clear();
}

/** Issue 12 item 4: bad manifest text and intake exceptions end as coded rejections, never as retried failures. */
describe('intake under bad input and exceptions', () => {
  /** Every call intake makes on the datasets store, to prove a bad manifest makes none. */
  function countingDrops(): string[] {
    const calls: string[] = [];
    for (const method of ['list', 'open', 'read', 'etagOf', 'write'] as const) {
      const original = drops[method].bind(drops) as (...args: unknown[]) => unknown;
      (drops as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
        calls.push(method);
        return original(...args);
      };
    }
    return calls;
  }

  it('a NUL byte in train is invalid_manifest naming the field, before any datasets storage call', async () => {
    const calls = countingDrops();
    const result = await handleDrop(deps(), drop({ ...MANIFEST, train: 'train\u0000.jsonl' }));
    const runId = expectRejected(result, 'invalid_manifest');
    expect(calls).toEqual([]);
    const written = reports.written.get(`support/faq/${runId}`)?.report as {
      errors: { field?: string; message: string }[];
    };
    expect(written.errors[0]).toMatchObject({ field: 'train', message: expect.stringContaining('control characters') });
  });

  it.each([
    ['an escape sequence in model', { model: 'llama\u001b[31m' }],
    ['a newline in a channel name', { notify: ['ops\n'] }],
    ['a DEL in eval', { eval: 'eval\u007f.jsonl' }],
    ['a 1100-character train path', { train: `${'a'.repeat(1100)}.jsonl` }],
    ['a 300-character model', { model: 'm'.repeat(300) }],
  ])('%s is invalid_manifest', async (_, fields) => {
    expectRejected(await handleDrop(deps(), drop({ ...MANIFEST, ...fields })), 'invalid_manifest');
  });

  it('an exception inside intake is intake_failed with the error in the report, once; the next drop goes through', async () => {
    const broken = deps({
      validate: async () => {
        throw new TypeError('Cannot read properties of undefined (reading "tokens")');
      },
    });
    const result = await handleDrop(broken, drop(MANIFEST));
    const runId = expectRejected(result, 'intake_failed');
    const written = reports.written.get(`support/faq/${runId}`)?.report as { errors: { message: string }[] };
    expect(written.errors[0]?.message).toContain('TypeError: Cannot read properties of undefined');
    // The same manifest version again (a redelivered event) does not fail a second time.
    expect((await handleDrop(broken, drop(MANIFEST))).outcome).toBe('duplicate');
    expect(events).toHaveLength(1);

    drops.files.set('support/next/train.jsonl', Buffer.from('{"messages":[]}\n'));
    const next = await handleDrop(deps(), drop(MANIFEST, 'support/next/run.json'));
    expect(next.outcome).toBe('started');
  });

  it('when even the rejection cannot be written (storage down), it throws so the trigger retries', async () => {
    const down = new Error('connect ECONNREFUSED 127.0.0.1:10000');
    const failing = deps({
      validate: async () => {
        throw down;
      },
      reports: {
        write: async () => {
          throw down;
        },
      },
    });
    await expect(handleDrop(failing, drop(MANIFEST))).rejects.toThrow('ECONNREFUSED');
    expect(log.handled.size).toBe(0);
  });
});

describe('rejectionReason', () => {
  it('names each code with its count and first message, and stays under 1,000 characters', () => {
    expect(
      rejectionReason([
        { code: 'data_file_missing', count: 2, message: '"train": train.jsonl was not found' },
        { code: 'file_too_large', count: 1 },
      ]),
    ).toBe('data_file_missing ×2: "train": train.jsonl was not found; file_too_large');
    const long = rejectionReason([{ code: 'invalid_json', count: 1, message: 'x'.repeat(5000) }]);
    expect(long).toHaveLength(1000);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('intake: the sharded path (issue 16)', () => {
  const shardingDeps = (threshold: number) => {
    const startedValidations: ShardedValidationInput[] = [];
    const instances = new Set<string>();
    const sharding: IntakeDeps['sharding'] = {
      thresholdBytes: threshold,
      shardBytes: 65_536,
      parallelism: 3,
      start: async (input) => {
        startedValidations.push(input);
        if (instances.has(input.validationId)) return 'exists';
        instances.add(input.validationId);
        return 'started';
      },
    };
    return { sharding, startedValidations };
  };

  it('hands a drop at or over the threshold to the orchestration, validating nothing inline and announcing nothing yet', async () => {
    const { sharding, startedValidations } = shardingDeps(16);
    const result = await handleDrop(deps({ sharding }), drop(MANIFEST));
    expect(result).toMatchObject({ outcome: 'validating', dataBytes: 16 });
    expect(validations).toBe(0);
    expect(events).toEqual([]);
    expect(started).toEqual([]);
    // Not remembered yet: the orchestration's finish writes the intake log.
    expect(log.handled.size).toBe(0);
    expect(startedValidations[0]).toMatchObject({
      team: 'support',
      dataset: 'faq',
      files: [{ name: 'train.jsonl', blobName: 'support/faq/train.jsonl', size: 16, etag: '"16"', role: 'train' }],
      settings: { model: MANIFEST.model, task: 'chat', registerTo: 'ml.support', trainingDuration: '2ep' },
      shardBytes: 65_536,
      parallelism: 3,
    });
  });

  it('a redelivered event (same manifest ETag) finds the same orchestration; a new ETag is a new validation', async () => {
    const { sharding, startedValidations } = shardingDeps(1);
    const first = await handleDrop(deps({ sharding }), drop(MANIFEST));
    const again = await handleDrop(deps({ sharding }), drop(MANIFEST));
    const reuploaded = await handleDrop(deps({ sharding }), drop(MANIFEST, 'support/faq/run.json', '"0x2"'));
    expect(first).toMatchObject({ outcome: 'validating' });
    expect((again as { validationId: string }).validationId).toBe((first as { validationId: string }).validationId);
    expect((reuploaded as { validationId: string }).validationId).not.toBe(
      (first as { validationId: string }).validationId,
    );
    expect(startedValidations).toHaveLength(3);
    expect(events).toEqual([]);
  });

  it('stays inline under the threshold, for continued pretraining, and refuses before fanning out', async () => {
    const { sharding, startedValidations } = shardingDeps(17);
    expect(await handleDrop(deps({ sharding }), drop(MANIFEST))).toMatchObject({ outcome: 'started' });
    expect(validations).toBe(1);
    beforeEachReset();
    validations = 0;
    drops.files.set('support/faq/texts/a.txt', Buffer.from('some text '.repeat(10)));
    const cpt = { ...MANIFEST, task: 'continued_pretraining', train: 'texts' };
    teams.set('support', JSON.stringify({ ...TEAM, maxDataFileBytes: 1000 }));
    await handleDrop(deps({ sharding: shardingDeps(1).sharding }), drop(cpt));
    expect(validations).toBe(1);
    beforeEachReset();
    validations = 0;
    teams.set('support', JSON.stringify(TEAM));
    drops.files.set('support/faq/train.jsonl', Buffer.alloc(200, 32));
    expectRejected(await handleDrop(deps({ sharding }), drop(MANIFEST)), 'file_too_large');
    expect(startedValidations).toEqual([]);
  });
});
