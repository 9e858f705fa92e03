import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { CONTAINERS } from '../../shared/config/resources';
import { chooseLocalRuntime, LOCAL_RUNTIMES_DIR } from '../localRuntimes';
import { uploadDrop } from '../uploadDrop';

const HELP = `Usage: tunedrop submit <folder> --team <team> [--dataset <name>] [--account-url <url> | --connection-string <cs> | --runtime <port|url|data folder>]

Uploads a drop folder to datasets/{team}/{dataset}/: data files first, run.json last.
Storage, first found: --connection-string, --account-url (signs in with DefaultAzureCredential),
the AzureWebJobsStorage environment variable, or a running local runtime (${LOCAL_RUNTIMES_DIR}/<port>.json):
the one --runtime (or TUNEDROP_RUNTIME) names, else the only one running.
`;

async function blobServiceFrom(values: {
  'connection-string'?: string;
  'account-url'?: string;
  runtime?: string;
}): Promise<BlobServiceClient> {
  if (values['connection-string']) return BlobServiceClient.fromConnectionString(values['connection-string']);
  if (values['account-url']) return new BlobServiceClient(values['account-url'], new DefaultAzureCredential());
  const fromEnv = process.env.AzureWebJobsStorage;
  if (fromEnv && values.runtime === undefined) return BlobServiceClient.fromConnectionString(fromEnv);
  const local = await chooseLocalRuntime(process.cwd(), values.runtime ?? process.env.TUNEDROP_RUNTIME);
  if (local) return BlobServiceClient.fromConnectionString(local.storageConnectionString);
  throw new UsageError(
    'no storage to upload to: pass --connection-string or --account-url, or start `npm start` first',
  );
}

class UsageError extends Error {}

export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`tunedrop submit: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const folder = positionals[0];
  if (!folder || !values.team) {
    process.stderr.write(`tunedrop submit: a folder and --team are required\n\n${HELP}`);
    return 2;
  }
  const dataset = values.dataset ?? basename(resolve(folder));
  try {
    const service = await blobServiceFrom(values);
    const drop = await uploadDrop(
      service.getContainerClient(CONTAINERS.datasets),
      folder,
      values.team,
      dataset,
      (blob, bytes) => process.stdout.write(`  uploaded ${blob} (${bytes} bytes)\n`),
    );
    process.stdout.write(
      `Dropped ${drop.dataBlobs.length} data file(s) and ${drop.manifestBlob} (${drop.bytes} bytes).\n`,
    );
    return 0;
  } catch (err) {
    process.stderr.write(`tunedrop submit: ${(err as Error).message}\n`);
    return 2;
  }
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      team: { type: 'string' },
      dataset: { type: 'string' },
      'account-url': { type: 'string' },
      'connection-string': { type: 'string' },
      runtime: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
