import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTrainingEmulator, type TrainingEmulator } from '../../../emulators/databricks';
import { DatabricksTrainingProvider } from '../../../shared/training/databricks';

const started: TrainingEmulator[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((e) => e.stop()));
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

let now = Date.parse('2026-03-01T09:00:00Z');
const timings = { pendingMs: 1_000, queuedMs: 1_000, startingMs: 1_000, trainingMs: 10_000, uploadMs: 1_000 };

async function emulatorOn(stateDir: string): Promise<TrainingEmulator> {
  const emulator = await startTrainingEmulator({ stateDir, now: () => now, timings, dataMustExist: true });
  started.push(emulator);
  return emulator;
}

function providerFor(emulator: TrainingEmulator) {
  return new DatabricksTrainingProvider({
    workspaceUrl: emulator.url,
    auth: emulator.token,
    experimentDir: '/Shared/tunedrop',
    now: () => now,
    sleep: async () => {},
  });
}

describe('the emulator with a state folder', () => {
  it('a second emulator on the same folder knows the runs, files and versions the first accepted (no clean stop needed)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emu-state-'));
    folders.push(dir);
    const first = await emulatorOn(dir);
    const upload = await fetch(`${first.url}/api/2.0/fs/files/Volumes/main/tunedrop/staging/r1/train.jsonl`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${first.token}` },
      body: '{"messages":[]}\n',
    });
    expect(upload.status).toBe(204);
    const ref = await providerFor(first).create(
      {
        model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
        task: 'chat',
        trainDataPath: 'dbfs:/Volumes/main/tunedrop/staging/r1/train.jsonl',
        registerTo: 'main.models',
      },
      'run-persisted',
    );
    // `first` is never stopped: what the second sees was on disk when the answer left, as after a kill -9.
    const second = await emulatorOn(dir);
    const provider = providerFor(second);
    expect((await provider.get(ref)).status).toBe('pending');
    now += 20_000;
    const done = await provider.get(ref);
    expect(done.status).toBe('completed');
    expect(done.registeredModel?.version).toBe(1);
    const head = await fetch(`${second.url}/api/2.0/fs/files/Volumes/main/tunedrop/staging/r1/train.jsonl`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${second.token}` },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('16');

    // The version registered by the second survives into a third, with its number.
    const third = await emulatorOn(dir);
    expect(third.state.modelVersions.get(`main.models.${ref.name}`)?.map((v) => v.version)).toEqual([1]);
    // An idempotent create after the restart finds the run instead of starting another.
    const again = await providerFor(third).create(
      {
        model: 'meta-llama/Meta-Llama-3.1-8B-Instruct',
        task: 'chat',
        trainDataPath: 'dbfs:/Volumes/main/tunedrop/staging/r1/train.jsonl',
        registerTo: 'main.models',
      },
      'run-persisted',
    );
    expect(again.name).toBe(ref.name);
    expect(third.state.runs.size).toBe(1);
  });

  it('refuses a corrupt state file with the path that is wrong instead of starting empty', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emu-state-'));
    folders.push(dir);
    writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ version: 1, nextId: 1, runs: [{ name: 3 }] }));
    await expect(emulatorOn(dir)).rejects.toThrow(/runs/);
  });
});
