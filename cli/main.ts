/**
 * `tunedrop` command line. Each command lives in its own module under cli/commands/,
 * exporting `run(args): Promise<number>` (the exit code: 0 ok, 1 a failed check, 2 usage or I/O
 * error). Modules load lazily so `tunedrop validate` does not pay for the local runtime.
 */
export interface CliCommand {
  summary: string;
  load: () => Promise<{ run(args: string[]): Promise<number> }>;
}

export const COMMANDS: Record<string, CliCommand> = {
  submit: { summary: 'Upload a drop folder (data first, run.json last)', load: () => import('./commands/submit.js') },
  models: { summary: 'List the models tunedrop can fine-tune', load: () => import('./commands/models.js') },
  validate: { summary: 'Check a dataset before training', load: () => import('./commands/validate.js') },
  runs: { summary: 'List, show, cancel and watch runs (HTTP API)', load: () => import('./commands/runs.js') },
  webhooks: {
    summary: 'Add, list, remove and test webhook subscriptions',
    load: () => import('./commands/webhooks.js'),
  },
  keys: {
    summary: 'Issue, list and revoke team keys (team admins)',
    load: () => import('./commands/keys.js'),
  },
  token: {
    summary: 'Print an access token for the API (a local dev principal, or Entra ID)',
    load: () => import('./commands/token.js'),
  },
  dev: {
    summary: 'Run the app offline (Azurite, Functions host, extensions)',
    load: () => import('./commands/dev.js'),
  },
  emulate: {
    summary: 'Run a provider emulator (databricks | azure-openai) for any client',
    load: () => import('./commands/emulate.js'),
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return [
    'Usage: tunedrop <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `tunedrop <command> --help` for a command’s options.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`tunedrop: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}
