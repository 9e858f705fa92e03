import { parseArgs } from 'node:util';
import type { z } from 'zod';
import type { modelListSchema } from '../../shared/api/schemas';
import { defaultCatalog, LICENCE_NAMES, type LicenceFamily } from '../../shared/catalog';
import {
  ApiProblemError,
  ApiUnreachableError,
  type CliIo,
  processIo,
  resolveApiConnectionWithLocal,
  TunedropApiClient,
  UsageError,
} from '../apiClient';

const HELP = `Usage: tunedrop models [--all] [--json] [--offline] [--api URL | --runtime PORT] [--key KEY]
  --all       include retired and withdrawn models
  --offline   the built-in seed table, without asking the API
The list comes from the API (the catalog the service refreshes from the provider daily); when the
API cannot be reached, from the seed table. The first line says which, and how old it is.
`;

type ModelList = z.output<typeof modelListSchema>;

/** `tunedrop models`: the catalog as the service currently has it, with its source and age. */
export async function run(args: string[], io: CliIo = processIo()): Promise<number> {
  let values: {
    json?: boolean;
    all?: boolean;
    offline?: boolean;
    help?: boolean;
    api?: string;
    runtime?: string;
    key?: string;
  };
  try {
    values = parseArgs({
      args,
      options: {
        json: { type: 'boolean' },
        all: { type: 'boolean' },
        offline: { type: 'boolean' },
        api: { type: 'string' },
        runtime: { type: 'string' },
        key: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    io.stderr.write(`tunedrop models: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  let list: ModelList;
  if (values.offline) list = seedList('seed table (--offline)');
  else {
    try {
      list = await new TunedropApiClient(
        await resolveApiConnectionWithLocal(values, io.env, io.cwd),
        io.fetch,
      ).listModels();
    } catch (err) {
      if (err instanceof UsageError) {
        io.stderr.write(`tunedrop models: ${err.message}\n`);
        return 2;
      }
      if (!(err instanceof ApiUnreachableError || err instanceof ApiProblemError)) throw err;
      list = seedList(`seed table (the API did not answer: ${err.message})`);
    }
  }
  const models = values.all ? list.models : list.models.filter((m) => m.status === 'supported');
  if (values.json) {
    io.stdout.write(`${JSON.stringify({ source: list.source, models }, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(`Catalog: ${list.source?.description ?? 'unknown source'}\n`);
  for (const m of models) {
    const note =
      m.status === 'retired'
        ? `retired ${m.retiredOn} → ${m.replacement}`
        : m.status === 'withdrawn'
          ? 'withdrawn: no longer offered by the provider'
          : (LICENCE_NAMES[m.licence as LicenceFamily] ?? m.licence);
    io.stdout.write(`${m.id.padEnd(42)} ${String(m.maxContextLength).padStart(7)}  ${note}\n`);
  }
  return 0;
}

function seedList(description: string): ModelList {
  return {
    models: defaultCatalog.models.map((m) => ({ ...m })),
    tasks: ['chat', 'instruction', 'continued_pretraining'],
    source: { kind: 'seed', description },
  };
}
