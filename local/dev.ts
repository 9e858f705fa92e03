import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { createDurableExtension } from './durable/extension';
import type { HostLogEntry } from './host/host';
import type { HostKeys } from './host/http';
import type { ExtensionSource, LocalRuntime } from './runtime';
import { createServiceBusStandInExtension } from './servicebus/open';

/**
 * The extensions `tunedrop dev` / `npm start` run with. A factory runs after Azurite is up and
 * before the host loads the app; an app registering a trigger type no listed extension drives fails
 * startup with `unhandled_trigger`. The bus comes first: it becomes the process's active stand-in,
 * which the durable engine's activities publish to.
 */
export const DEV_EXTENSIONS: readonly ExtensionSource[] = [
  (services) =>
    createServiceBusStandInExtension({ connectionString: services.storageConnectionString, log: services.log }),
  (services) => createDurableExtension({ log: services.log }),
];

const hostKeysSchema = z.object({
  master: z.string().min(16),
  host: z.array(z.string().min(16)).default([]),
  functions: z.record(z.string(), z.array(z.string().min(16))).default({}),
  /** System keys by name, e.g. durabletask_extension for /runtime/webhooks/durabletask (as in Azure). */
  system: z.record(z.string(), z.string().min(16)).default({}),
});

/**
 * The local host's function keys, like Azure's host.json secrets: generated once into `file`
 * (mode 0600, under the ignored .tunedrop/ folder) and read back on later starts.
 */
export function loadOrCreateHostKeys(file: string): HostKeys & { master: string } {
  if (existsSync(file)) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      throw new Error(`${file} is not valid JSON; delete it to generate new keys`);
    }
    const parsed = hostKeysSchema.safeParse(json);
    if (!parsed.success) {
      throw new Error(
        `${file} must be {"master": string, "host"?: string[], "functions"?: {name: string[]}} with keys of 16+ characters`,
      );
    }
    return parsed.data;
  }
  const keys = {
    master: randomBytes(32).toString('base64url'),
    host: [randomBytes(32).toString('base64url')],
    functions: {},
    system: { durabletask_extension: randomBytes(32).toString('base64url') },
  };
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return keys;
}

const localSettingsSchema = z.object({ Values: z.record(z.string(), z.string()).optional() }).passthrough();

/** `Values` of the app's local.settings.json (as Core Tools reads it), or {} when there is none. */
export function readLocalSettings(appRoot: string): Record<string, string> {
  const file = path.join(appRoot, 'local.settings.json');
  if (!existsSync(file)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw new Error(`${file} is not valid JSON`);
  }
  const parsed = localSettingsSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: "Values" must map names to strings`);
  return parsed.data.Values ?? {};
}

/** The "what runs where" banner `tunedrop dev` prints once ready. Never includes keys. */
export function describeRuntime(runtime: LocalRuntime, keysFile?: string): string {
  const { host, storage, startup } = runtime;
  const lines: string[] = [];
  lines.push(
    `tunedrop local runtime ready in ${Math.round(startup.totalMs)} ms (target 3000 ms): storage ` +
      `${Math.round(startup.storageMs)} ms, app load ${Math.round(startup.appLoadMs)} ms, host and extensions ` +
      `${Math.round(startup.hostMs)} ms`,
  );
  lines.push('');
  lines.push(`Storage (Azurite${storage.location ? `, data in ${storage.location}` : ', in memory'}):`);
  if (storage.endpoints) {
    lines.push(`  blob   ${storage.endpoints.blob}`);
    lines.push(`  queue  ${storage.endpoints.queue}`);
    lines.push(`  table  ${storage.endpoints.table}`);
    // Azurite's well-known development account (public, not a secret): what Storage Explorer, az and azcopy need.
    lines.push(`  connection string (Storage Explorer, az, azcopy): ${storage.connectionString}`);
  } else {
    lines.push('  (external storage)');
  }
  lines.push('');
  lines.push(`Functions host: ${host.baseUrl}  (${host.functions.size} functions)`);
  if (host.httpRoutes.length > 0) {
    lines.push('  HTTP:');
    const width = Math.max(...host.httpRoutes.map((r) => r.methods.join(',').length));
    for (const route of host.httpRoutes) {
      const auth = route.authLevel === 'anonymous' ? '' : `  [${route.authLevel} key]`;
      lines.push(`    ${route.methods.join(',').padEnd(width)}  ${route.url}  → ${route.functionName}${auth}`);
    }
  }
  const timers = host.timers();
  if (timers.length > 0) {
    lines.push('  Timers (UTC):');
    for (const t of timers) {
      const next = t.next ? `next ${t.next.toISOString()}` : '';
      lines.push(`    ${t.functionName}  "${t.schedule}"  ${next}${t.runOnStartup ? '  (runOnStartup)' : ''}`);
    }
  }
  if (host.blobTriggers.length > 0) {
    lines.push('  Blob triggers (container scan):');
    for (const b of host.blobTriggers) lines.push(`    ${b.functionName}  ${b.path}  (source ${b.source})`);
  }
  const byExtension = new Map<string, string[]>();
  for (const fn of host.functions.values()) {
    const owner = host.extensions.find((e) => e.triggerTypes.includes(fn.trigger.type));
    if (owner) byExtension.set(owner.name, [...(byExtension.get(owner.name) ?? []), `${fn.name} (${fn.trigger.type})`]);
  }
  lines.push(`  Extensions: ${host.extensions.length === 0 ? 'none' : host.extensions.map((e) => e.name).join(', ')}`);
  for (const [name, fns] of byExtension) lines.push(`    ${name}: ${fns.join(', ')}`);
  if (keysFile) {
    lines.push('');
    lines.push(`Function keys: ${keysFile} (send as x-functions-key header or ?code=)`);
  }
  lines.push('');
  lines.push('Ctrl-C to stop.');
  return lines.join('\n');
}

/** One console line per log entry; function logs carry the function name. */
export function formatLogEntry(entry: HostLogEntry, now: Date = new Date()): string {
  const time = now.toISOString().slice(11, 23);
  const who = entry.functionName ? `[${entry.functionName}] ` : entry.category === 'host' ? '[host] ' : '';
  return `${time} ${entry.level === 'information' ? '' : `${entry.level.toUpperCase()} `}${who}${entry.message}`;
}

/** Package root of tunedrop itself (where package.json says name "tunedrop"), starting at `from`. */
export function findPackageRoot(from: string): string {
  let dir = path.resolve(from);
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, 'utf8')) as { name?: unknown }).name === 'tunedrop') return dir;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no tunedrop package.json above ${from}`);
    dir = parent;
  }
}
