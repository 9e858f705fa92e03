/**
 * `npm run package`: the zip `azd deploy` uploads for the Functions app, built the way the deploy
 * docs decide (docs/deploy.md): compiled dist/ of functions/ and shared/ only, host.json,
 * package.json, package-lock.json and production node_modules from `npm ci --omit=dev`. Prints its
 * size, file count and production dependency count, and fails if any local tooling got in.
 *
 *   npm run package [-- --out .tunedrop/package/tunedrop-app.zip]
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { crc32, deflateRawSync } from 'node:zlib';
import { forbiddenInPackage, PACKAGE_ROOT_FILES, packagedDist } from './packageContents';

const REPO = path.resolve(__dirname, '..');
const { values } = parseArgs({
  options: { out: { type: 'string' }, 'keep-staging': { type: 'boolean' } },
});
const out = path.resolve(values.out ?? path.join(REPO, '.tunedrop', 'package', 'tunedrop-app.zip'));
const staging = path.join(path.dirname(out), 'staging');

rmSync(staging, { recursive: true, force: true });
mkdirSync(staging, { recursive: true });
for (const file of PACKAGE_ROOT_FILES) copyFileSync(path.join(REPO, file), path.join(staging, file));
for (const dir of packagedDist(path.join(REPO, 'dist'))) {
  cpSync(path.join(REPO, 'dist', dir), path.join(staging, 'dist', dir), { recursive: true });
}
execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
  cwd: staging,
  stdio: ['ignore', 'ignore', 'inherit'],
});

const files = listFiles(staging);
const bad = files.filter((f) => forbiddenInPackage(f));
if (bad.length) {
  process.stderr.write(`package: local tooling in the package:\n  ${bad.slice(0, 20).join('\n  ')}\n`);
  process.exit(1);
}
const bytes = writeZip(out, staging, files);
const productionPackages = JSON.parse(
  execFileSync('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd: staging, encoding: 'utf8' }),
) as { dependencies?: Record<string, { dependencies?: unknown }> };
const unpacked = files.reduce((n, f) => n + statSync(path.join(staging, f)).size, 0);
if (!values['keep-staging']) rmSync(staging, { recursive: true, force: true });

const result = {
  zip: path.relative(process.cwd(), out),
  zipBytes: bytes,
  unpackedBytes: unpacked,
  files: files.length,
  productionPackages: countPackages(productionPackages.dependencies ?? {}),
};
process.stdout.write(
  `package ${result.zip}: ${(bytes / 1e6).toFixed(1)} MB zipped (${(unpacked / 1e6).toFixed(1)} MB unpacked), ${result.files} files, ${result.productionPackages} production packages\n`,
);
writeFileSync(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);

function listFiles(root: string, dir = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) found.push(...listFiles(root, rel));
    else if (entry.isFile()) found.push(rel);
  }
  return found.sort();
}

/** Distinct installed packages (name@version) in an `npm ls --json` tree. */
function countPackages(tree: Record<string, { version?: string; dependencies?: unknown }>): number {
  const seen = new Set<string>();
  const visit = (deps: Record<string, { version?: string; dependencies?: unknown }>) => {
    for (const [name, info] of Object.entries(deps)) {
      const key = `${name}@${info.version ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      visit((info.dependencies ?? {}) as Record<string, { version?: string; dependencies?: unknown }>);
    }
  };
  visit(tree);
  return seen.size;
}

/** A plain zip (deflate, no zip64: the package is far below 4 GB), written with Node's zlib. */
function writeZip(file: string, root: string, names: string[]): number {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const data = readFileSync(path.join(root, name));
    const packed = deflateRawSync(data, { level: 6 });
    const crc = crc32(data);
    const nameBytes = Buffer.from(name, 'utf8');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0, 10); // time/date: 1980-01-01, so the same inputs give the same zip
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    chunks.push(local, nameBytes, packed);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(0x031e, 4); // made by: unix
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(0x0800, 8);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt32LE(0, 12);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(nameBytes.length, 28);
    entry.writeUInt32LE((0o100644 << 16) >>> 0, 38); // regular file, rw-r--r--
    entry.writeUInt32LE(offset, 42);
    central.push(entry, nameBytes);
    offset += local.length + nameBytes.length + packed.length;
  }
  const centralBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(names.length, 8);
  end.writeUInt16LE(names.length, 10);
  end.writeUInt32LE(centralBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  const zip = Buffer.concat([...chunks, centralBytes, end]);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, zip);
  return zip.length;
}
