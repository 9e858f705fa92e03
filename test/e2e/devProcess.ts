import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { Webhook } from 'standardwebhooks';
import { TunedropApiClient } from '../../cli/apiClient';
import { devTokens } from '../../cli/credentials';
import { type LocalRuntimeRecord, localRuntimeFile, localRuntimeRecordSchema } from '../../cli/localRuntimes';
import { CONTAINERS } from '../../shared/config/resources';
import { REPO } from './support';

/**
 * The real `tunedrop dev` as a child process (bin/tunedrop.js, the compiled CLI), watched from
 * outside: its console lines, its runtime file, and a kill -9 whenever the test says.
 */
export class DevProcess {
  readonly lines: string[] = [];
  private readonly waiters: { pattern: RegExp; resolve(line: string): void; reject(err: Error): void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcessWithoutNullStreams,
    readonly port: number,
    readonly runtimesDir: string,
  ) {
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) this.onLine(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        for (const w of this.waiters.splice(0)) {
          w.reject(new Error(`tunedrop dev exited (${code ?? signal}) before "${w.pattern}":\n${this.tail()}`));
        }
        resolve({ code, signal });
      });
    });
  }

  /** Starts `tunedrop dev` and resolves once it wrote its runtime file (API and storage up). */
  static async start(options: {
    port: number;
    /** TUNEDROP_RUNTIMES_DIR: each test file keeps its runtime files apart from others and from `npm start`. */
    runtimesDir: string;
    args: string[];
    env?: Record<string, string>;
    readyTimeoutMs?: number;
  }): Promise<DevProcess> {
    const child = spawn(
      process.execPath,
      [
        path.join(REPO, 'bin', 'tunedrop.js'),
        'dev',
        '--port',
        String(options.port),
        '--inbox-port',
        '0',
        ...options.args,
      ],
      {
        cwd: REPO,
        env: { ...cleanEnvironment(), TUNEDROP_RUNTIMES_DIR: options.runtimesDir, ...options.env },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    const dev = new DevProcess(child, options.port, options.runtimesDir);
    await dev.waitForLine(/^Runtime file: /, options.readyTimeoutMs ?? 45_000);
    return dev;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** This instance's runtime file (.tunedrop/runtimes/<port>.json). */
  record(): LocalRuntimeRecord {
    return localRuntimeRecordSchema.parse(
      JSON.parse(readFileSync(localRuntimeFile(REPO, this.port, { TUNEDROP_RUNTIMES_DIR: this.runtimesDir }), 'utf8')),
    );
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string> {
    const seen = this.lines.find((l) => pattern.test(l));
    if (seen) return Promise.resolve(seen);
    if (this.child.exitCode !== null || this.child.signalCode !== null) {
      return Promise.reject(new Error(`tunedrop dev is not running; waited for "${pattern}":\n${this.tail()}`));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no line "${pattern}" within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.waiters.push(waiter);
    });
  }

  async kill9(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Ctrl-C's path: SIGTERM, everything stops in order. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }

  tail(n = 40): string {
    return this.lines.slice(-n).join('\n');
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (process.env.TUNEDROP_TEST_DEV_OUTPUT) process.stdout.write(`[dev ${this.port}] ${line}\n`);
    for (const w of [...this.waiters]) {
      if (w.pattern.test(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  }
}

/** The test process's environment without app settings a test may have set (the child gets its own). */
function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(TUNEDROP_|DATABRICKS_|AZURE_OPENAI_|AzureWebJobs|FUNCTIONS_)/.test(name)) continue;
    env[name] = value;
  }
  return env;
}

export interface ReceivedWebhook {
  /** `webhook-id`: the event id, the same on every redelivery. */
  id: string;
  type: string;
  runId: string;
  dataset?: string;
  sequence?: number;
  data: Record<string, unknown>;
  receivedAt: number;
}

/**
 * A webhook receiver as a subscriber would write one: verifies every delivery with the official
 * `standardwebhooks` package and keeps what it verified (redeliveries included, as they arrived).
 */
export class WebhookReceiver {
  readonly deliveries: ReceivedWebhook[] = [];
  readonly refused: string[] = [];
  private webhook: Webhook | undefined;
  private readonly waiters: { predicate(d: ReceivedWebhook[]): boolean; resolve(): void }[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => receiver?.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    receiver = new WebhookReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
  }

  trust(secret: string): void {
    this.webhook = new Webhook(secret);
  }

  waitFor(predicate: (deliveries: ReceivedWebhook[]) => boolean, timeoutMs: number): Promise<void> {
    if (predicate(this.deliveries)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        predicate,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `webhook receiver: not seen within ${timeoutMs} ms; got ${this.deliveries.map((d) => `${d.dataset}:${d.type}`).join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    let event: { id: string; type: string; subject: string; data: Record<string, unknown> };
    try {
      if (!this.webhook) throw new Error('no secret yet');
      event = this.webhook.verify(body, headers) as typeof event;
    } catch (err) {
      this.refused.push(`${headers['webhook-id']}: ${err instanceof Error ? err.message : String(err)}`);
      res.writeHead(401).end();
      return;
    }
    this.deliveries.push({
      id: headers['webhook-id'],
      type: event.type,
      runId: event.subject,
      dataset: typeof event.data.dataset === 'string' ? event.data.dataset : undefined,
      sequence: typeof event.data.sequence === 'number' ? event.data.sequence : undefined,
      data: event.data,
      receivedAt: Date.now(),
    });
    res.writeHead(200).end();
    for (const w of [...this.waiters]) {
      if (w.predicate(this.deliveries)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}

/** The API of a running `tunedrop dev` as platform-admin (a dev token from the checkout's dev issuer). */
export function devApi(dev: DevProcess): TunedropApiClient {
  return new TunedropApiClient({
    baseUrl: dev.baseUrl,
    token: devTokens(REPO, 'platform-admin'),
    keySource: 'local dev identity',
  });
}

/**
 * A team like examples/teams/support.json but with no Teams/Slack channels, written to the
 * runtime's config container, and `receiver` subscribed to all of its events through the API.
 */
export async function subscribeTeam(dev: DevProcess, team: string, receiver: WebhookReceiver): Promise<void> {
  const support = JSON.parse(readFileSync(path.join(REPO, 'examples', 'teams', 'support.json'), 'utf8'));
  const body = JSON.stringify({ ...support, team, channels: [] });
  await BlobServiceClient.fromConnectionString(dev.record().storageConnectionString)
    .getContainerClient(CONTAINERS.config)
    .getBlockBlobClient(`teams/${team}.json`)
    .upload(body, body.length);
  const hook = await devApi(dev).createWebhook({ team, url: receiver.url, description: `${team} test receiver` });
  receiver.trust(hook.secret);
}

/**
 * "No event lost, none twice" (docs/operations.md) for one dataset's run, from what the receiver
 * got: one event id per fact (type; status_changed per sequence), the whole story present,
 * sequences 1..n, exactly one terminal event and it is run.completed. Returns the run id and the
 * number of redeliveries (same webhook-id received again: allowed, at least once).
 */
export function checkRunStory(
  deliveries: ReceivedWebhook[],
  dataset: string,
): { runId: string; redeliveries: number; story: string[]; problems: string[] } {
  const mine = deliveries.filter((d) => d.dataset === dataset);
  const problems: string[] = [];
  const runIds = [...new Set(mine.map((d) => d.runId))];
  if (runIds.length !== 1) problems.push(`${runIds.length} run ids`);
  const idsByFact = new Map<string, Set<string>>();
  for (const d of mine) {
    const fact = d.type === 'tunedrop.run.status_changed' ? `${d.type}#${d.sequence}` : d.type;
    idsByFact.set(fact, (idsByFact.get(fact) ?? new Set()).add(d.id));
  }
  for (const [fact, ids] of idsByFact) if (ids.size !== 1) problems.push(`${ids.size} event ids for ${fact}`);
  const facts = [...idsByFact.keys()];
  for (const type of [
    'tunedrop.dataset.validated',
    'tunedrop.run.submitted',
    'tunedrop.run.completed',
    'tunedrop.model.registered',
  ]) {
    if (!facts.includes(type)) problems.push(`missing ${type}`);
  }
  const sequences = [
    ...new Set(mine.filter((d) => d.type === 'tunedrop.run.status_changed').map((d) => d.sequence as number)),
  ].sort((a, b) => a - b);
  if (sequences.some((s, i) => s !== i + 1)) problems.push(`status_changed sequences ${sequences.join(',')}`);
  const terminal = facts.filter((f) => /run\.(completed|failed|cancelled|timed_out)$/.test(f));
  if (terminal.length !== 1 || terminal[0] !== 'tunedrop.run.completed')
    problems.push(`terminal ${terminal.join(',')}`);
  return {
    runId: runIds[0] ?? '',
    redeliveries: mine.length - new Set(mine.map((d) => d.id)).size,
    story: mine.map((d) => `${d.type.replace('tunedrop.', '')}${d.sequence ? `#${d.sequence}` : ''}`),
    problems,
  };
}
