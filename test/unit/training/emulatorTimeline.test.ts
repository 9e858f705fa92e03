import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMINGS, type EmulatorRun, viewRun } from '../../../emulators/databricks/state';

const t0 = Date.parse('2026-03-01T00:00:00Z');
const T = {
  ...DEFAULT_TIMINGS,
  pendingMs: 10,
  queuedMs: 20,
  startingMs: 30,
  trainingMs: 100,
  uploadMs: 40,
  stoppingMs: 5,
};
const run = (extra: Partial<EmulatorRun> = {}): EmulatorRun => ({
  id: 'ft-1',
  name: 'm-abc',
  createdAtMs: t0,
  config: { model: 'm', trainDataPath: 'dbfs:/Volumes/a/b/c/d', saveFolder: 's' },
  experimentPath: '/x',
  mlflowExperimentId: '1',
  mlflowRunId: 'r',
  timings: T,
  ...extra,
});

describe('emulator run timeline (computed from the clock)', () => {
  it('progresses PENDING → QUEUED → STARTING → RUNNING → (TRAIN_FINISHED) → COMPLETED', () => {
    const at = (ms: number) => viewRun(run(), t0 + ms);
    expect([0, 10, 30, 60, 159, 160, 199, 200].map((ms) => at(ms).status)).toEqual([
      'PENDING',
      'QUEUED',
      'STARTING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'RUNNING',
      'COMPLETED',
    ]);
    expect(at(170).events.map((e) => e.type)).toEqual(['CREATED', 'STARTED', 'TRAIN_FINISHED']);
    expect(at(200)).toMatchObject({ startedAtMs: t0 + 60, completedAtMs: t0 + 200, registeredAtMs: t0 + 200 });
    expect(at(100).estimatedEndMs).toBe(t0 + 200);
  });

  it('fails mid-training or while pulling, when told to', () => {
    const failed = run({ failure: { reason: 'OOM', status: 'FAILED' } });
    expect(viewRun(failed, t0 + 109).status).toBe('RUNNING');
    expect(viewRun(failed, t0 + 110)).toMatchObject({ status: 'FAILED', reason: 'OOM', completedAtMs: t0 + 110 });
    expect(viewRun(failed, t0 + 500).registeredAtMs).toBeUndefined();
    const pull = run({ failure: { reason: 'pull', status: 'FAILED_PULL' } });
    expect(viewRun(pull, t0 + 45)).toMatchObject({ status: 'FAILED_PULL', startedAtMs: undefined });
  });

  it('stops after a cancel: STOPPING for stoppingMs, then STOPPED', () => {
    const stopped = run({ stopRequestedAtMs: t0 + 70 });
    expect(viewRun(stopped, t0 + 72).status).toBe('STOPPING');
    expect(viewRun(stopped, t0 + 75)).toMatchObject({ status: 'STOPPED', completedAtMs: t0 + 75 });
    expect(viewRun(stopped, t0 + 1000).events.at(-1)?.type).toBe('STOPPED');
  });
});
