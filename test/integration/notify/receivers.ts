import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

type Behaviour = { status: number; body: string } | 'hang';

/**
 * A real HTTP receiver on 127.0.0.1 standing in for a Teams Workflows or Slack webhook. `answer`
 * sets what it replies next (default: Teams 202 empty body, Slack 200 "ok"); `hang` never answers.
 */
export class WebhookReceiver {
  readonly received: ReceivedPost[] = [];
  private behaviour: Behaviour;
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  private constructor(readonly kind: 'teams' | 'slack') {
    this.behaviour = kind === 'teams' ? { status: 202, body: '' } : { status: 200, body: 'ok' };
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  static async start(kind: 'teams' | 'slack'): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(kind);
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** A URL with secret-looking path and query, as real webhook URLs have. */
  url(secret: string): string {
    const { port } = this.server.address() as AddressInfo;
    return this.kind === 'teams'
      ? `http://127.0.0.1:${port}/workflows/${secret}/triggers/manual/paths/invoke?sig=${secret}`
      : `http://127.0.0.1:${port}/services/T000/B000/${secret}`;
  }

  private readonly queued: Behaviour[] = [];

  /** Replies for the next requests, in order, before falling back to `answer`'s behaviour. */
  answerNext(...behaviours: Behaviour[]): void {
    this.queued.push(...behaviours);
  }

  answer(behaviour: Behaviour | 'default'): void {
    this.behaviour =
      behaviour !== 'default'
        ? behaviour
        : this.kind === 'teams'
          ? { status: 202, body: '' }
          : { status: 200, body: 'ok' };
  }

  /** Posts that were answered 2xx. */
  delivered(): ReceivedPost[] {
    return this.received.filter((r) => (r as ReceivedPost & { status?: number }).status !== undefined);
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const post: ReceivedPost & { status?: number } = {
      path: req.url ?? '',
      contentType: req.headers['content-type'],
      body: JSON.parse(text),
    };
    const behaviour = this.queued.shift() ?? this.behaviour;
    this.received.push(post);
    if (behaviour === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (behaviour.status >= 200 && behaviour.status < 300) post.status = behaviour.status;
    res.writeHead(behaviour.status, { 'content-type': 'text/plain' }).end(behaviour.body);
  }
}
