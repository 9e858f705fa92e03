import { parseArgs } from 'node:util';
import { type CliIo, processIo } from '../apiClient';
import { azureIdentityTokens, devTokens } from '../credentials';

const HELP = `Usage: tunedrop token <principal>            a dev token from the local runtime's issuer (examples/dev-principals.json)
       tunedrop token --audience API_AUDIENCE   an Entra ID token for the API (Azure CLI / managed identity / device code)

Prints the token alone, for curl: -H "authorization: Bearer $(npx tunedrop token support-admin)"
`;

export async function run(args: string[], io: CliIo = processIo()): Promise<number> {
  let values: { audience?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { audience: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    io.stderr.write(`tunedrop token: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const principal = positionals[0];
  const audience = values.audience ?? io.env.TUNEDROP_API_AUDIENCE;
  if (!principal && !audience) {
    io.stderr.write(HELP);
    return 2;
  }
  try {
    const token = await (principal ? devTokens(io.cwd, principal) : azureIdentityTokens(audience ?? ''))();
    io.stdout.write(`${token}\n`);
    return 0;
  } catch (err) {
    io.stderr.write(`tunedrop token: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}
