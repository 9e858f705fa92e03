import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: on a 2-core CI machine, one file at a time
    // (585 s). Most e2e files wait on the local runtime rather than compute: two at once, 317 s.
    maxWorkers: 2,
    globalSetup: ['test/support/azurite.global-setup.ts'],
  },
});
