import { type Dirent, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { z } from 'zod';
import { LocalHostError } from './errors';

const appPackageSchema = z.object({ main: z.string().min(1).optional() }).passthrough();
const hostJsonSchema = z
  .object({
    extensions: z
      .object({ http: z.object({ routePrefix: z.string().optional() }).passthrough().optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/** The files Azure's Node worker loads for an app: package.json `main` (a file or a glob), relative to the app root. */
export function resolveEntryPoints(appRoot: string): { main: string; files: string[] } {
  const packagePath = path.join(appRoot, 'package.json');
  let raw: string;
  try {
    raw = readFileSync(packagePath, 'utf8');
  } catch (err) {
    throw new LocalHostError('invalid_app_package', `cannot read ${packagePath}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new LocalHostError('invalid_app_package', `${packagePath} is not valid JSON`, { cause: err });
  }
  const parsed = appPackageSchema.safeParse(json);
  if (!parsed.success) {
    throw new LocalHostError('invalid_app_package', `${packagePath}: "main" must be a non-empty string`);
  }
  const main = parsed.data.main ?? 'index.js';
  const files = expandGlob(appRoot, main);
  if (files.length === 0) {
    throw new LocalHostError(
      'invalid_app_package',
      `package.json "main" (${main}) matches no file under ${appRoot} — build the app first (npm run build)`,
    );
  }
  return { main, files };
}

/** host.json's HTTP route prefix ("api" unless set). */
export function readRoutePrefix(appRoot: string): string {
  let raw: string;
  try {
    raw = readFileSync(path.join(appRoot, 'host.json'), 'utf8');
  } catch {
    return 'api';
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new LocalHostError('invalid_app_package', `${path.join(appRoot, 'host.json')} is not valid JSON`, {
      cause: err,
    });
  }
  const parsed = hostJsonSchema.safeParse(json);
  const prefix = parsed.success ? parsed.data.extensions?.http?.routePrefix : undefined;
  return (prefix ?? 'api').replace(/^\/+|\/+$/g, '');
}

/**
 * Require every entry point. Files of this app already in the require cache (a previous host in
 * the same process) are evicted first so their `app.*` calls run again and register afresh.
 */
export function loadEntryPoints(appRoot: string, files: readonly string[]): void {
  const root = path.resolve(appRoot) + path.sep;
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(root) && !key.slice(root.length).split(path.sep).includes('node_modules')) {
      delete require.cache[key];
    }
  }
  const appRequire = createRequire(path.join(root, 'package.json'));
  for (const file of files) {
    try {
      appRequire(file);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new LocalHostError('app_load_failed', `loading ${path.relative(root, file)} failed: ${reason}`, {
        cause: err,
      });
    }
  }
}

/** Expand a glob (`*`, `**`, `?`, `{a,b}`) relative to root, sorted; node_modules is never searched. */
export function expandGlob(root: string, pattern: string): string[] {
  const normalized = pattern.replace(/\\/g, '/').replace(/^\.\//, '');
  const segments = normalized.split('/');
  const firstGlob = segments.findIndex((s) => /[*?{[]/.test(s));
  if (firstGlob < 0) {
    const file = path.join(root, ...segments);
    return existsSync(file) && statSync(file).isFile() ? [file] : [];
  }
  const base = path.join(root, ...segments.slice(0, firstGlob));
  const matcher = globToRegExp(segments.slice(firstGlob).join('/'));
  const found: string[] = [];
  walk(base, '', (relative) => {
    if (matcher.test(relative)) found.push(path.join(base, relative));
  });
  return found.sort();
}

function walk(dir: string, prefix: string, visit: (relative: string) => void): void {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (entry.name === 'node_modules') continue;
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) walk(path.join(dir, entry.name), relative, visit);
    else if (entry.isFile()) visit(relative);
  }
}

export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) {
        out += '\\{';
        continue;
      }
      const options = glob.slice(i + 1, end).split(',');
      out += `(?:${options.map((o) => o.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')).join('|')})`;
      i = end;
    } else {
      out += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}
