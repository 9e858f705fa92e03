import type { TestProject } from 'vitest/node';
import { type RunningAzurite, startAzurite } from '../../local/azurite';

/** One in-memory Azurite for the whole run; tests read its connection string with inject('azurite'). */
let azurite: RunningAzurite | undefined;

export async function setup(project: TestProject): Promise<void> {
  azurite = await startAzurite();
  project.provide('azurite', { connectionString: azurite.connectionString, endpoints: azurite.endpoints });
}

export async function teardown(): Promise<void> {
  await azurite?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    azurite: { connectionString: string; endpoints: { blob: string; queue: string; table: string } };
  }
}
