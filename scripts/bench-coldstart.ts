/**
 * `npm run bench:coldstart`: the app's cold import the way the Functions host loads it — a fresh
 * Node process requires every module package.json `main` names (dist/functions/**\/*.js) — for
 * this checkout and for a reference commit (default: the last one before the architecture change),
 * side by side in one run. Median of N fresh processes each; also the number of modules each loads
 * and how many of them are local tooling (local runtime, CLI, emulator, Azurite).
 *
 *   npm run bench:coldstart [-- --runs 10 --ref <commit>]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { median } from './benchStats';

const REPO = path.resolve(__dirname, '..');
/** The last commit before issue 11 moved the tooling out of shared/. */
const DEFAULT_REFERENCE = '04bb61f';

const { values } = parseArgs({ options: { runs: { type: 'string' }, ref: { type: 'string' } } });
const runs = Number(values.runs ?? 10);
const ref = values.ref ?? DEFAULT_REFERENCE;

/** Runs in the child: require the host's entry points, report time and the modules loaded. */
const PROBE = `
const path = require('node:path');
const fs = require('node:fs');
const root = process.argv[1];
const t0 = process.hrtime.bigint();
const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.js') ? [path.join(dir, e.name)] : []);
for (const file of walk(path.join(root, 'dist', 'functions')).sort()) require(file);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const modules = Object.keys(require.cache);
const tooling = modules.filter((m) => /[\\\\/]dist[\\\\/](shared[\\\\/])?(local|cli|emulators|training[\\\\/]emulator)[\\\\/]|node_modules[\\\\/]azurite[\\\\/]/.test(m));
process.stdout.write(JSON.stringify({ ms, modules: modules.length, tooling: tooling.length }));
`;

interface Sample {
  ms: number;
  modules: number;
  tooling: number;
}

function measure(root: string): Sample[] {
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) {
    const child = spawnSync(process.execPath, ['-e', PROBE, root], { encoding: 'utf8', cwd: root });
    if (child.status !== 0) throw new Error(`cold import in ${root} failed: ${child.stderr}`);
    samples.push(JSON.parse(child.stdout) as Sample);
  }
  return samples;
}

function referenceCheckout(): string {
  const dir = path.join(REPO, '.tunedrop', 'bench-coldstart-ref');
  if (existsSync(dir)) execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: REPO, stdio: 'ignore' });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.dirname(dir), { recursive: true });
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: REPO, stdio: 'ignore' });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  execFileSync(
    process.execPath,
    [path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: dir,
      stdio: 'inherit',
    },
  );
  return dir;
}

const reference = referenceCheckout();
try {
  const rows = [
    { name: `reference ${ref}`, samples: measure(reference) },
    { name: 'this checkout', samples: measure(REPO) },
  ];
  process.stdout.write(`cold import of every function module, fresh process, median of ${runs}\n`);
  for (const row of rows) {
    const s = row.samples;
    process.stdout.write(
      `  ${row.name.padEnd(22)} ${median(s.map((x) => x.ms))
        .toFixed(1)
        .padStart(7)} ms  ` +
        `(min ${Math.min(...s.map((x) => x.ms)).toFixed(1)}, max ${Math.max(...s.map((x) => x.ms)).toFixed(1)})  ` +
        `${s[0]?.modules} modules, ${s[0]?.tooling} of them local tooling\n`,
    );
  }
} finally {
  execFileSync('git', ['worktree', 'remove', '--force', reference], { cwd: REPO, stdio: 'ignore' });
}
