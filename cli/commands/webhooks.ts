import { EVENT_TYPES, type EventType } from '../../shared/events/types';
import { type CliIo, processIo, runApiCommand, table, UsageError } from '../apiClient';

const HELP = `Usage: tunedrop webhooks <add|list|rm|test> [options]

  webhooks add --team T --url URL [--events a,b] [--description TEXT]
                                 subscribe URL to team T's events (prints the signing secret once)
  webhooks list [--team T] [--json]
  webhooks rm <id>
  webhooks test <id>             send a signed test event now; exit 1 if it was not delivered

Event types: ${EVENT_TYPES.join(', ')}
Connection: --api URL (or TUNEDROP_API_URL), else --runtime PORT|URL|DATA (or TUNEDROP_RUNTIME) or the only
running local runtime; credential: --key TEAM_KEY (or TUNEDROP_API_KEY),
  --as PRINCIPAL (local dev token, or TUNEDROP_AS), --audience API_AUDIENCE (Entra ID token via
  Azure CLI / managed identity / device code, or TUNEDROP_API_AUDIENCE); locally: platform-admin
`;

const OPTIONS = {
  team: { type: 'string' },
  url: { type: 'string' },
  events: { type: 'string' },
  description: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export function run(args: string[], io: CliIo = processIo()): Promise<number> {
  return runApiCommand('webhooks', args, io, { help: HELP, options: OPTIONS }, async (sub, [id], values, client) => {
    switch (sub) {
      case 'add': {
        if (!values.team || !values.url) throw new UsageError('--team and --url are required');
        const created = await client.createWebhook({
          team: values.team,
          url: values.url,
          ...(values.events ? { eventTypes: eventTypes(values.events) } : {}),
          ...(values.description ? { description: values.description } : {}),
        });
        io.stdout.write(
          [
            `Created ${created.id} for team ${created.team} → ${displayUrl(created.url)}`,
            `Events: ${created.eventTypes?.join(', ') ?? 'all'}`,
            `Signing secret: ${created.secret}`,
            'Store this secret now: it is not shown again (rotate it through the API if lost).',
            'Verify each delivery’s webhook-signature with it (Standard Webhooks).',
            '',
          ].join('\n'),
        );
        return 0;
      }
      case 'list': {
        const webhooks = await client.listWebhooks(values.team);
        if (values.json) {
          io.stdout.write(`${JSON.stringify(webhooks, null, 2)}\n`);
          return 0;
        }
        if (webhooks.length === 0) {
          io.stdout.write('No webhook subscriptions.\n');
          return 0;
        }
        const rows = [['ID', 'TEAM', 'URL', 'EVENTS', 'CREATED']];
        for (const w of webhooks) {
          rows.push([w.id, w.team, displayUrl(w.url), w.eventTypes?.join(',') ?? 'all', w.createdAt]);
        }
        io.stdout.write(`${table(rows)}\n`);
        return 0;
      }
      case 'rm': {
        if (!id) throw new UsageError('a webhook id is required');
        await client.deleteWebhook(id);
        io.stdout.write(`Deleted ${id}.\n`);
        return 0;
      }
      case 'test': {
        if (!id) throw new UsageError('a webhook id is required');
        const result = await client.testWebhook(id);
        io.stdout.write(
          result.delivered
            ? `Delivered: the endpoint answered ${result.result}.\n`
            : `Not delivered: ${result.result}.\n`,
        );
        return result.delivered ? 0 : 1;
      }
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  });
}

function eventTypes(list: string): EventType[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s.startsWith('tunedrop.') ? s : `tunedrop.${s}`));
  const unknown = names.filter((n) => !EVENT_TYPES.includes(n as EventType));
  if (unknown.length || names.length === 0) {
    throw new UsageError(
      `unknown event type(s) ${unknown.join(', ') || '(none given)'}; known: ${EVENT_TYPES.join(', ')}`,
    );
  }
  return names as EventType[];
}

/** Target URLs may carry tokens in their query: show scheme, host and path only. */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(unparseable URL)';
  }
}
