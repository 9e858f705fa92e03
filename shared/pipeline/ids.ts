import { createHash } from 'node:crypto';

/**
 * A run's id (also its orchestration instance id and the provider idempotency key). Derived from
 * the manifest's blob URL and the digest of what was dropped, so a duplicate event, or the same
 * bytes uploaded again (which gets a new ETag in Azure), maps to the same run and starts nothing new.
 * The port is left out: the local runtime's Azurite listens on a new port each start, and the
 * same drop must stay the same run across restarts.
 */
export function runIdFor(manifestUrl: string, contentDigest: string): string {
  const url = new URL(manifestUrl);
  const canonical = `${url.hostname.toLowerCase()}${decodeURIComponent(url.pathname)}`;
  const hash = createHash('sha256').update(`${canonical}\n${contentDigest}`).digest('hex');
  return `run-${hash.slice(0, 32)}`;
}

/** Digest of the manifest bytes and the data files' digests, in a stable order. */
export function dropDigest(manifestBytes: Buffer, dataDigests: Record<string, string>): string {
  const h = createHash('sha256').update(manifestBytes);
  for (const name of Object.keys(dataDigests).sort()) h.update(`\n${name}=${dataDigests[name]}`);
  return h.digest('hex');
}
