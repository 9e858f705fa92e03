import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = path.resolve(__dirname, '..', '..');
const CLI = path.join(REPO, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/** A throwaway tree with the repo's rules, so a violating import can be shown without touching the repo. */
function treeWith(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tunedrop-deps-'));
  copyFileSync(path.join(REPO, '.dependency-cruiser.cjs'), path.join(root, '.dependency-cruiser.cjs'));
  writeFileSync(
    path.join(root, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  );
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    writeFileSync(path.join(root, name), text);
  }
  roots.push(root);
  return root;
}

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function cruise(root: string): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [CLI, 'functions', 'shared', 'local', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { cwd: root, encoding: 'utf8' },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('the architecture rules (.dependency-cruiser.cjs)', () => {
  it('catch shared/ importing the local runtime, a function building an adapter, and a cycle', () => {
    const root = treeWith({
      'local/standIn.ts': 'export const standIn = 1;\n',
      'shared/pipeline/uses.ts': "import { standIn } from '../../local/standIn';\nexport const x = standIn;\n",
      'shared/adapters/blob.ts': 'export const blob = 1;\n',
      'shared/compositionRoot.ts': "import { blob } from './adapters/blob';\nexport const root = blob;\n",
      'functions/f.ts': "import { blob } from '../shared/adapters/blob';\nexport const f = blob;\n",
      'shared/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'shared/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
    });
    const { status, output } = cruise(root);
    expect(status).not.toBe(0);
    expect(output).toContain('shared-not-to-tooling: shared/pipeline/uses.ts → local/standIn.ts');
    expect(output).toContain('functions-only-roots-and-handlers: functions/f.ts → shared/adapters/blob.ts');
    expect(output).toMatch(/no-circular: shared\/(a|b)\.ts → \s+shared\/(a|b)\.ts/);
  }, 60_000);

  it('pass a tree where tooling imports shared/ and functions ask the composition root', () => {
    const root = treeWith({
      'shared/adapters/blob.ts': 'export const blob = 1;\n',
      'shared/compositionRoot.ts': "import { blob } from './adapters/blob';\nexport const getServices = () => blob;\n",
      'functions/f.ts': "import { getServices } from '../shared/compositionRoot';\nexport const f = getServices;\n",
      'local/runtime.ts': "import { getServices } from '../shared/compositionRoot';\nexport const r = getServices;\n",
    });
    const { status, output } = cruise(root);
    expect(output).not.toContain('error');
    expect(status).toBe(0);
  }, 60_000);
});
