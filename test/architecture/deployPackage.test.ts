import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { forbiddenInPackage, packagedDist } from '../../scripts/packageContents';

const REPO = path.resolve(__dirname, '..', '..');

describe('the deploy package', () => {
  it('keeps what runs in Azure and refuses the local tooling', () => {
    for (const kept of [
      'host.json',
      'dist/functions/intake.js',
      'dist/shared/compositionRoot.js',
      'node_modules/durable-functions/lib/src/index.js',
      'node_modules/zod/src/index.ts',
      'node_modules/@azure/functions/types/index.d.ts',
    ]) {
      expect(forbiddenInPackage(kept), kept).toBe(false);
    }
    for (const dropped of [
      'dist/local/runtime.js',
      'dist/cli/main.js',
      'dist/emulators/databricks/server.js',
      'local/dev.ts',
      'bin/tunedrop.js',
      'node_modules/azurite/dist/src/azurite.js',
      'node_modules/@scope/x/node_modules/azurite/package.json',
      'shared/compositionRoot.ts',
    ]) {
      expect(forbiddenInPackage(dropped), dropped).toBe(true);
    }
  });

  it('takes functions/ and shared/ of dist/, and says when the app is not built', () => {
    expect(packagedDist(path.join(REPO, 'dist'))).toEqual(['functions', 'shared']);
    const empty = mkdtempSync(path.join(os.tmpdir(), 'tunedrop-dist-'));
    try {
      expect(() => packagedDist(path.join(empty, 'dist'))).toThrow(/npm run build/);
      mkdirSync(path.join(empty, 'dist', 'functions'), { recursive: true });
      expect(() => packagedDist(path.join(empty, 'dist'))).toThrow(/no shared/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('loads no local tooling when the app is required the way the Functions host does (package.json main)', () => {
    const probe = `
      const path = require('node:path'); const fs = require('node:fs');
      const main = require(path.join(process.cwd(), 'package.json')).main;
      if (main !== 'dist/functions/**/*.js') throw new Error('unexpected main ' + main);
      const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.js') ? [path.join(d, e.name)] : []);
      for (const f of walk(path.join(process.cwd(), 'dist', 'functions'))) require(f);
      process.stdout.write(JSON.stringify(Object.keys(require.cache).map((m) => path.relative(process.cwd(), m))));
    `;
    const child = spawnSync(process.execPath, ['-e', probe], { cwd: REPO, encoding: 'utf8' });
    expect(child.status, child.stderr).toBe(0);
    const modules = JSON.parse(child.stdout) as string[];
    expect(modules.filter((m) => m.startsWith('dist/functions/')).length).toBeGreaterThan(10);
    expect(modules).toContain(path.join('dist', 'shared', 'compositionRoot.js'));
    expect(modules.filter((m) => /^dist\/(local|cli|emulators)\/|node_modules\/azurite\//.test(m))).toEqual([]);
  }, 60_000);
});
