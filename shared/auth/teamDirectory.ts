import type { ContainerClient } from '@azure/storage-blob';
import { teamConfigSchema } from '../pipeline/teams';
import { defaultTeamAccess, type TeamAccessEntry } from './principal';

/** The configured teams and who holds which role on each (from config/teams/{team}.json). */
export interface TeamDirectory {
  list(): Promise<readonly TeamAccessEntry[]>;
}

/**
 * Reads every `teams/*.json` in the config container, at most once per `ttlMs` (a changed
 * membership applies within that time). A file that is not a valid configuration for the team it is
 * named after is left out: nobody gets a role through it, and intake refuses its drops.
 */
export function blobTeamDirectory(
  config: ContainerClient,
  options: { ttlMs?: number; now?: () => number; log?: (message: string) => void } = {},
): TeamDirectory {
  const ttl = options.ttlMs ?? 30_000;
  const now = options.now ?? Date.now;
  let cached: { at: number; teams: Promise<TeamAccessEntry[]> } | undefined;
  const load = async (): Promise<TeamAccessEntry[]> => {
    try {
      return await read();
    } catch (err) {
      // No config container yet: no team is configured.
      if ((err as { statusCode?: number }).statusCode === 404) return [];
      throw err;
    }
  };
  const read = async (): Promise<TeamAccessEntry[]> => {
    const entries: TeamAccessEntry[] = [];
    for await (const blob of config.listBlobsFlat({ prefix: 'teams/' })) {
      const m = /^teams\/([a-z0-9][a-z0-9-]{0,62})\.json$/.exec(blob.name);
      if (!m?.[1]) continue;
      const team = m[1];
      let json: unknown;
      try {
        json = JSON.parse((await config.getBlobClient(blob.name).downloadToBuffer()).toString('utf8'));
      } catch {
        options.log?.(`team directory: config/${blob.name} is not readable JSON; team ${team} has no members`);
        continue;
      }
      const parsed = teamConfigSchema.safeParse(json);
      if (!parsed.success || parsed.data.team !== team) {
        options.log?.(
          `team directory: config/${blob.name} is not a valid team configuration; team ${team} has no members`,
        );
        continue;
      }
      entries.push({ team, access: parsed.data.access ?? defaultTeamAccess(team) });
    }
    return entries;
  };
  return {
    list() {
      const t = now();
      if (!cached || t - cached.at >= ttl) {
        const teams = load();
        cached = { at: t, teams };
        // A failed read is not cached: the next request tries again.
        teams.catch(() => {
          if (cached?.teams === teams) cached = undefined;
        });
      }
      return cached.teams;
    },
  };
}

/** A fixed directory (tests, and callers that already hold the configurations). */
export function staticTeamDirectory(teams: readonly TeamAccessEntry[]): TeamDirectory {
  return { list: async () => teams };
}
