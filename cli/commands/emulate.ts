import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const USAGE = `Usage: tunedrop emulate databricks|azure-openai [--port N] [--token T] [--fast]
  Starts a provider emulator on 127.0.0.1 for any client to use and prints one JSON line
  {"provider", "url", "token"} when it is ready; runs until stopped (Ctrl+C / SIGTERM).
  databricks     stand-in for Databricks Foundation Model Fine-tuning (Bearer <token>)
  azure-openai   stand-in for Azure OpenAI fine-tuning (api-key <token> or Bearer <token>),
                 with the ARM deployments control plane on the same URL
  --port N       port (default: a free one)
  --token T      the token clients must send (default: a random one)
  --fast         seconds instead of minutes for status progressions`;

/** `tunedrop emulate`: one provider emulator, standalone. */
export async function run(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (err) {
    process.stderr.write(`tunedrop emulate: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const provider = positionals[0];
  const port = values.port === undefined ? undefined : Number(values.port);
  if (positionals.length !== 1 || (provider !== 'databricks' && provider !== 'azure-openai')) {
    process.stderr.write(`tunedrop emulate: name one provider: databricks or azure-openai\n${USAGE}\n`);
    return 2;
  }
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65_536)) {
    process.stderr.write(`tunedrop emulate: --port must be 1–65535\n`);
    return 2;
  }
  const token = values.token;
  let stop: () => Promise<void>;
  let url: string;
  let clientToken: string;
  try {
    if (provider === 'databricks') {
      const { FAST_TIMINGS, startTrainingEmulator } = await import('../../emulators/databricks/index.js');
      const emulator = await startTrainingEmulator({ port, token, ...(values.fast ? { timings: FAST_TIMINGS } : {}) });
      ({ url } = emulator);
      clientToken = emulator.token;
      stop = () => emulator.stop();
    } else {
      const { FAST_AZURE_TIMINGS, startAzureOpenAIEmulator } = await import('../../emulators/azure-openai/index.js');
      // One token for both: the data plane's api-key and the bearer token (Entra ID and ARM stand-in).
      const shared = token ?? randomBytes(16).toString('hex');
      const emulator = await startAzureOpenAIEmulator({
        port,
        apiKey: shared,
        bearerToken: shared,
        ...(values.fast ? { timings: FAST_AZURE_TIMINGS } : {}),
      });
      ({ url } = emulator);
      clientToken = emulator.apiKey;
      stop = () => emulator.stop();
    }
  } catch (err) {
    process.stderr.write(`tunedrop emulate: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`${JSON.stringify({ provider, url, token: clientToken })}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  await stop();
  return signal === 'SIGINT' ? 130 : 0;
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      token: { type: 'string' },
      fast: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
