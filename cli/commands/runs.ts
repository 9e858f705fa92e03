import type { ApiRun } from '../../shared/api/schemas';
import { RUN_STATUSES, type RunStatus } from '../../shared/runStatus';
import {
  ApiProblemError,
  ApiUnreachableError,
  type CliIo,
  processIo,
  runApiCommand,
  type TunedropApiClient,
  table,
  UsageError,
} from '../apiClient';

const HELP = `Usage: tunedrop runs <list|show|cancel|watch> [options]

  runs list [--team T] [--dataset D] [--status S] [--json]
                                               runs, newest first (all pages)
  runs show <run-id> [--json]                  one run
  runs cancel <run-id>                         ask a running run to stop
  runs watch <run-id> [--interval SECONDS]     follow a run until it ends; exit 0 completed,
                                               1 failed/cancelled/timed_out/rejected

Connection: --api URL (or TUNEDROP_API_URL), else --runtime PORT|URL|DATA (or TUNEDROP_RUNTIME) or the only
running local runtime, else http://127.0.0.1:7071; credential: --key TEAM_KEY
  (or TUNEDROP_API_KEY), --as PRINCIPAL (local dev token, or TUNEDROP_AS), --audience API_AUDIENCE
  (Entra ID token via Azure CLI / managed identity / device code, or TUNEDROP_API_AUDIENCE);
  default against a local runtime started here: a dev token for platform-admin
`;

const SUCCESS: readonly string[] = ['completed', 'registered'];
const FAILURE: readonly string[] = ['failed', 'cancelled', 'timed_out', 'rejected'];

const OPTIONS = {
  team: { type: 'string' },
  dataset: { type: 'string' },
  status: { type: 'string' },
  json: { type: 'boolean' },
  interval: { type: 'string' },
} as const;

export function run(args: string[], io: CliIo = processIo()): Promise<number> {
  return runApiCommand('runs', args, io, { help: HELP, options: OPTIONS }, async (sub, [id], values, client) => {
    switch (sub) {
      case 'list':
        return list(client, values, io);
      case 'show':
        return show(client, requireId(id), values.json ?? false, io);
      case 'cancel': {
        const cancelled = await client.cancelRun(requireId(id));
        io.stdout.write(`Cancellation requested for ${cancelled.runId} (was ${cancelled.status}).\n`);
        return 0;
      }
      case 'watch':
        return watch(client, requireId(id), intervalMs(values.interval), io);
      default:
        throw new UsageError(`unknown subcommand "${sub}"`);
    }
  });
}

function requireId(id: string | undefined): string {
  if (!id) throw new UsageError('a run id is required');
  return id;
}

function intervalMs(value: string | undefined): number {
  if (value === undefined) return 5_000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError('--interval must be a positive number of seconds');
  return seconds * 1000;
}

async function list(
  client: TunedropApiClient,
  values: { team?: string; dataset?: string; status?: string; json?: boolean },
  io: CliIo,
): Promise<number> {
  if (values.status && !RUN_STATUSES.includes(values.status as RunStatus)) {
    throw new UsageError(`--status must be one of ${RUN_STATUSES.join(', ')}`);
  }
  const runs = await client.listRuns({ team: values.team, dataset: values.dataset, status: values.status });
  if (values.json) {
    io.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    io.stdout.write('No runs.\n');
    return 0;
  }
  const sorted = [...runs].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  const rows = [['RUN', 'TEAM', 'DATASET', 'MODEL', 'STATUS', 'UPDATED']];
  for (const r of sorted) rows.push([r.runId, r.team, r.dataset, r.model, r.status, r.updatedAt]);
  io.stdout.write(`${table(rows)}\n`);
  return 0;
}

async function show(client: TunedropApiClient, id: string, json: boolean, io: CliIo): Promise<number> {
  const run = await client.getRun(id);
  if (json) {
    io.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`${describe(run)}\n`);
  return 0;
}

function describe(run: ApiRun): string {
  const lines: [string, string | undefined][] = [
    ['run', run.runId],
    ['status', run.reason ? `${run.status} (${run.reason})` : run.status],
    ['team', run.team],
    ['dataset', run.dataset],
    ['model', run.model],
    ['task', run.task],
    ['created', run.createdAt],
    ['updated', run.updatedAt],
    ['completed', run.completedAt],
    ['provider run', run.providerRunName],
    ['register to', run.registerTo],
    ['registered', run.registeredModel ? `${run.registeredModel} v${run.registeredVersion ?? '?'}` : undefined],
    ['alias', run.modelAlias],
    ['report', run.reportUrl],
  ];
  return lines
    .filter((l): l is [string, string] => l[1] !== undefined)
    .map(([k, v]) => `${k.padEnd(13)}${v}`)
    .join('\n');
}

/** Consecutive failed polls tolerated while watching (a host restart, a blip) before giving up. */
const MAX_POLL_FAILURES = 3;

async function watch(client: TunedropApiClient, id: string, interval: number, io: CliIo): Promise<number> {
  const sleep = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = io.now ?? (() => new Date());
  let last: string | undefined;
  let failures = 0;
  for (;;) {
    let run: ApiRun;
    try {
      run = await client.getRun(id);
      failures = 0;
    } catch (err) {
      if (err instanceof ApiProblemError && err.status < 500) throw err;
      if (!(err instanceof ApiProblemError || err instanceof ApiUnreachableError)) throw err;
      failures += 1;
      if (failures >= MAX_POLL_FAILURES) throw err;
      io.stderr.write(`${now().toISOString()}  (poll failed: ${err.message}; retrying)\n`);
      await sleep(interval);
      continue;
    }
    const state = `${run.status}${run.reason ? ` — ${run.reason}` : ''}`;
    if (state !== last) {
      io.stdout.write(`${now().toISOString()}  ${run.runId}  ${state}\n`);
      last = state;
    }
    if (SUCCESS.includes(run.status)) {
      if (run.registeredModel) {
        io.stdout.write(`registered ${run.registeredModel} v${run.registeredVersion ?? '?'}\n`);
      }
      return 0;
    }
    if (FAILURE.includes(run.status)) return 1;
    await sleep(interval);
  }
}
