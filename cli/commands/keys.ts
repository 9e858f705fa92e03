import { TEAM_KEY_ACTIONS } from '../../shared/auth/principal';
import { type CliIo, processIo, runApiCommand, table, UsageError } from '../apiClient';

const HELP = `Usage: tunedrop keys <create|list|revoke> [options]   (team admins)

  keys create --team T --actions read,start[,cancel,subscribe] [--description TEXT] [--expires-in-days N]
                                 issue a key for team T (prints the key once: only its hash is kept)
  keys list [--team T] [--json]  the keys of your teams: actions, creator, last use, revocation
  keys revoke <key-id>           the key stops working at once

Actions: ${TEAM_KEY_ACTIONS.join(', ')}. Send a key as the x-functions-key header (tunedrop --key).
Connection: --api URL (or TUNEDROP_API_URL), else --runtime PORT|URL|DATA (or TUNEDROP_RUNTIME) or the only
running local runtime; credential: --as PRINCIPAL (local), --audience API_AUDIENCE
  (Entra ID), --key (a team key cannot manage keys)
`;

const OPTIONS = {
  team: { type: 'string' },
  actions: { type: 'string' },
  description: { type: 'string' },
  'expires-in-days': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export function run(args: string[], io: CliIo = processIo()): Promise<number> {
  return runApiCommand('keys', args, io, { help: HELP, options: OPTIONS }, async (sub, [id], values, client) => {
    switch (sub) {
      case 'create': {
        if (!values.team || !values.actions) throw new UsageError('--team and --actions are required');
        const actions = values.actions.split(',').map((a) => a.trim());
        const unknown = actions.filter((a) => !(TEAM_KEY_ACTIONS as readonly string[]).includes(a));
        if (unknown.length)
          throw new UsageError(`unknown action(s) ${unknown.join(', ')}; use ${TEAM_KEY_ACTIONS.join(', ')}`);
        const days = values['expires-in-days'];
        if (days !== undefined && !/^\d{1,4}$/.test(days))
          throw new UsageError('--expires-in-days must be a whole number');
        const created = await client.createKey({
          team: values.team,
          actions: actions as (typeof TEAM_KEY_ACTIONS)[number][],
          ...(values.description ? { description: values.description } : {}),
          ...(days ? { expiresInDays: Number(days) } : {}),
        });
        io.stdout.write(
          [
            `Created key ${created.id} for team ${created.team}: ${created.actions.join(', ')}${created.expiresAt ? ` (expires ${created.expiresAt})` : ''}`,
            `Key: ${created.key}`,
            'Store this key now: it is not shown again (revoke it and issue a new one if lost).',
            '',
          ].join('\n'),
        );
        return 0;
      }
      case 'list': {
        const keys = await client.listKeys(values.team);
        if (values.json) {
          io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
          return 0;
        }
        if (keys.length === 0) {
          io.stdout.write('No team keys.\n');
          return 0;
        }
        const rows = [['ID', 'TEAM', 'ACTIONS', 'CREATED BY', 'LAST USED', 'STATE', 'DESCRIPTION']];
        for (const k of keys) {
          const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active';
          rows.push([
            k.id,
            k.team,
            k.actions.join(','),
            k.createdBy,
            k.lastUsedAt ?? 'never',
            state,
            k.description ?? '',
          ]);
        }
        io.stdout.write(`${table(rows)}\n`);
        return 0;
      }
      case 'revoke': {
        if (!id) throw new UsageError('keys revoke needs a key id');
        const revoked = await client.revokeKey(id);
        io.stdout.write(`Revoked ${revoked.id} (team ${revoked.team}) at ${revoked.revokedAt}\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  });
}
