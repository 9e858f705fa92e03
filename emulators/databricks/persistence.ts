import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { type DurableEmulatorState, type EmulatorState, finetuneConfigSchema } from './state';

/**
 * Keeps the emulator's state in a folder, as the real service keeps its runs across our restarts:
 * `state.json` (runs, file metadata, model versions, aliases, tags) rewritten atomically (temp file
 * + rename) on every change before the response leaves, and file contents under `files/<sha256>`.
 * A kill -9 at any point leaves either the previous or the new state.json, never half of one.
 */
export function persistState(state: EmulatorState, folder: string): void {
  const files = path.join(folder, 'files');
  mkdirSync(files, { recursive: true });
  const statePath = path.join(folder, 'state.json');
  if (existsSync(statePath)) {
    const saved = savedStateSchema.parse(JSON.parse(readFileSync(statePath, 'utf8'))) as DurableEmulatorState;
    state.restore(saved, (sha256) => readFileSync(path.join(files, sha256)));
  }
  const written = new Set<string>();
  state.onChange = () => {
    for (const file of state.files.values()) {
      if (written.has(file.sha256)) continue;
      const target = path.join(files, file.sha256);
      if (!existsSync(target)) writeAtomic(target, file.bytes);
      written.add(file.sha256);
    }
    writeAtomic(statePath, JSON.stringify(state.toDurable()));
  };
}

function writeAtomic(target: string, data: string | Buffer): void {
  const temp = `${target}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, target);
}

const timingsSchema = z.object({
  pendingMs: z.number(),
  queuedMs: z.number(),
  startingMs: z.number(),
  trainingMs: z.number(),
  uploadMs: z.number(),
  registrationMs: z.number(),
  stoppingMs: z.number(),
});

/** The saved file is input like any other: a corrupt one is refused with the path that is wrong. */
const savedStateSchema = z.object({
  version: z.literal(1),
  nextId: z.number().int().positive(),
  runs: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      createdAtMs: z.number(),
      config: finetuneConfigSchema,
      experimentPath: z.string(),
      mlflowExperimentId: z.string(),
      mlflowRunId: z.string(),
      timings: timingsSchema,
      failure: z.object({ reason: z.string(), status: z.enum(['FAILED', 'FAILED_PULL']) }).optional(),
      stopRequestedAtMs: z.number().optional(),
    }),
  ),
  files: z.array(
    z.object({
      path: z.string(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      chunks: z.number(),
      chunked: z.boolean(),
      modifiedAtMs: z.number(),
      size: z.number(),
    }),
  ),
  modelVersions: z.array(
    z.object({
      fullName: z.string(),
      version: z.number().int(),
      runId: z.string().optional(),
      source: z.string(),
      createdAtMs: z.number(),
      readyAtMs: z.number(),
      failRegistration: z.boolean(),
      tags: z.record(z.string(), z.string()),
    }),
  ),
  aliases: z.record(z.string(), z.record(z.string(), z.number())),
});
