import { parseArgs } from 'node:util';
import { defaultCatalog, isTask, TASKS } from '../../shared/catalog';
import {
  DatasetReadError,
  localDatasetFiles,
  renderValidationMarkdown,
  ValidationInputError,
  validateDataset,
} from '../../shared/datasets';

const USAGE = `Usage: tunedrop validate <file-or-folder> --model <id> [options]

Options:
  --model <id>           model to fine-tune (see \`tunedrop models\`)
  --task <task>          ${TASKS.join(' | ')} (default: chat)
  --context-length <n>   effective context length (default: the model's maximum)
  --epochs <n>           planned epochs, for billable tokens (default: 1)
  --json                 print the report as JSON
  -h, --help             show this help

Exit codes: 0 valid, 1 invalid, 2 usage or I/O error.
`;

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

const PROGRESS_MIN_BYTES = 32 * 1024 * 1024;

export function progressBar(stderr: CliIo['stderr'], total: number): ((bytes: number) => void) | undefined {
  if (!stderr.isTTY || total < PROGRESS_MIN_BYTES) return undefined;
  let lastDraw = 0;
  const started = Date.now();
  return (bytes) => {
    const now = Date.now();
    if (now - lastDraw < 200 && bytes < total) return;
    lastDraw = now;
    const fraction = Math.min(1, bytes / total);
    const width = 30;
    const filled = Math.round(fraction * width);
    const mbps = bytes / 1e6 / Math.max(0.001, (now - started) / 1000);
    stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${mbps.toFixed(1)} MB/s`,
    );
  };
}

function parsePositive(name: string, value: string | undefined, integer: boolean): number | undefined | Error {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    return new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  }
  return n;
}

export async function run(args: string[], io: CliIo = process): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    io.stderr.write(`tunedrop validate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(USAGE);
    return 0;
  }
  const usageError = (message: string) => {
    io.stderr.write(`tunedrop validate: ${message}\n\n${USAGE}`);
    return 2;
  };
  if (positionals.length !== 1) return usageError('give exactly one file or folder');
  if (!values.model) return usageError('--model is required');
  const task = values.task ?? 'chat';
  if (!isTask(task)) return usageError(`unknown task "${task}"; use one of ${TASKS.join(', ')}`);
  if (!defaultCatalog.find(values.model)) {
    io.stderr.write(
      `tunedrop validate: unknown model "${values.model}". Supported models:\n${defaultCatalog
        .supported()
        .map((m) => `  ${m.id}`)
        .join('\n')}\n`,
    );
    return 2;
  }
  const contextLength = parsePositive('context-length', values['context-length'], true);
  if (contextLength instanceof Error) return usageError(contextLength.message);
  const epochs = parsePositive('epochs', values.epochs, false);
  if (epochs instanceof Error) return usageError(epochs.message);

  const path = positionals[0] as string;
  try {
    const files = await localDatasetFiles(path, task);
    const total = files.reduce((n, f) => n + (f.size ?? 0), 0);
    const onProgress = progressBar(io.stderr, total);
    const report = await validateDataset({ model: values.model, task, contextLength, epochs, files, onProgress });
    if (onProgress) io.stderr.write('\n');
    io.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : renderValidationMarkdown(report));
    return report.ok ? 0 : 1;
  } catch (err) {
    if (err instanceof ValidationInputError) return usageError(err.message);
    const message =
      err instanceof DatasetReadError ? err.message : `cannot read ${path}: ${(err as Error).message ?? String(err)}`;
    io.stderr.write(`tunedrop validate: ${message}\n`);
    return 2;
  }
}

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      model: { type: 'string', short: 'm' },
      task: { type: 'string', short: 't' },
      'context-length': { type: 'string' },
      epochs: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
