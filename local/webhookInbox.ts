import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { verifyWebhook, type WebhookVerifyFailureCode } from '../shared/webhooks/signing';

/**
 * The local runtime's webhook inbox: a receiver for the three kinds of outbound calls tunedrop
 * makes, on 127.0.0.1, printing one line per call.
 *   POST /inbox/webhooks/{name}  Standard Webhooks delivery, verified with the secret trusted for
 *                                {name} (401 when it does not verify, 200 when it does)
 *   POST /inbox/teams/{name}     Teams Workflows payload with an Adaptive Card (202, like Workflows)
 *   POST /inbox/slack/{name}     Slack incoming-webhook payload (200 "ok", like Slack)
 * A name set down answers 503, for retry demos and tests.
 */

export type InboxKind = 'webhooks' | 'teams' | 'slack';

export interface InboxEntry {
  kind: InboxKind;
  name: string;
  receivedAt: Date;
  /** The status the inbox answered with. */
  status: number;
  /** webhooks: the signature verified. */
  verified?: boolean;
  /** webhooks: why it did not verify; teams/slack: why the payload was refused. */
  failure?: WebhookVerifyFailureCode | 'untrusted' | 'down' | 'invalid_payload';
  /** Lower-cased request headers. */
  headers: Record<string, string>;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
  /** One line: event type and run id for webhooks, card title and facts for Teams/Slack. */
  summary: string;
}

export interface WebhookInbox {
  /** Base URL, e.g. http://127.0.0.1:7072; targets are `${url}/inbox/webhooks/{name}` and so on. */
  url: string;
  trust(name: string, secret: string): void;
  setDown(name: string, down: boolean): void;
  received(): InboxEntry[];
  /** The first entry (already received or arriving) that matches; rejects after timeoutMs. */
  waitFor(predicate: (entry: InboxEntry) => boolean, timeoutMs?: number): Promise<InboxEntry>;
  stop(): Promise<void>;
}

export interface WebhookInboxOptions {
  /** 0 = any free port. */
  port: number;
  host?: string;
  log?: (line: string) => void;
  /** Replay tolerance for webhook timestamps (default 300 s). */
  toleranceSeconds?: number;
  now?: () => Date;
}

const MAX_BODY_BYTES = 1024 * 1024;
const ROUTE = /^\/inbox\/(webhooks|teams|slack)\/([A-Za-z0-9._-]{1,100})\/?$/;

const adaptiveElementSchema: z.ZodType<AdaptiveElement> = z.lazy(() =>
  z.looseObject({
    type: z.string(),
    text: z.string().optional(),
    size: z.string().optional(),
    weight: z.string().optional(),
    style: z.string().optional(),
    facts: z.array(z.looseObject({ title: z.string(), value: z.string() })).optional(),
    items: z.array(adaptiveElementSchema).optional(),
    columns: z.array(z.looseObject({ items: z.array(adaptiveElementSchema).optional() })).optional(),
  }),
);
interface AdaptiveElement {
  type: string;
  text?: string;
  size?: string;
  weight?: string;
  style?: string;
  facts?: { title: string; value: string }[];
  items?: AdaptiveElement[];
  columns?: { items?: AdaptiveElement[] }[];
}

export const teamsWorkflowPayloadSchema = z.looseObject({
  type: z.literal('message'),
  attachments: z
    .array(
      z.looseObject({
        contentType: z.literal('application/vnd.microsoft.card.adaptive'),
        contentUrl: z.string().nullable().optional(),
        content: z.looseObject({
          type: z.literal('AdaptiveCard'),
          version: z.string().optional(),
          body: z.array(adaptiveElementSchema).default([]),
        }),
      }),
    )
    .min(1),
});

const slackTextSchema = z.looseObject({ type: z.string(), text: z.string() });
export const slackPayloadSchema = z
  .looseObject({
    text: z.string().optional(),
    blocks: z
      .array(
        z.looseObject({
          type: z.string(),
          text: slackTextSchema.optional(),
          fields: z.array(slackTextSchema).optional(),
        }),
      )
      .optional(),
  })
  .refine((p) => p.text !== undefined || (p.blocks?.length ?? 0) > 0, 'needs text or blocks');

function flatten(elements: AdaptiveElement[]): AdaptiveElement[] {
  return elements.flatMap((e) => [
    e,
    ...flatten(e.items ?? []),
    ...flatten((e.columns ?? []).flatMap((c) => c.items ?? [])),
  ]);
}

export function summarizeTeamsCard(payload: z.infer<typeof teamsWorkflowPayloadSchema>): string {
  const elements = flatten(payload.attachments.flatMap((a) => a.content.body));
  const texts = elements.filter((e) => e.type === 'TextBlock' && e.text);
  const title = (texts.find((e) => e.weight?.toLowerCase() === 'bolder' || e.size) ?? texts[0])?.text ?? '(no title)';
  const facts = elements.flatMap((e) => e.facts ?? []).map((f) => `${f.title} ${f.value}`);
  return [title, ...facts].join(' | ');
}

export function summarizeSlack(payload: z.infer<typeof slackPayloadSchema>): string {
  const blocks = payload.blocks ?? [];
  const title = blocks.find((b) => b.type === 'header')?.text?.text ?? payload.text ?? blocks[0]?.text?.text ?? '';
  const facts = blocks.flatMap((b) => b.fields ?? []).map((f) => f.text.replace(/\s*\n\s*/g, ' '));
  return [title, ...facts].join(' | ');
}

function lowerHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export async function startWebhookInbox(options: WebhookInboxOptions): Promise<WebhookInbox> {
  const host = options.host ?? '127.0.0.1';
  const log = options.log ?? (() => {});
  const secrets = new Map<string, string>();
  const down = new Set<string>();
  const entries: InboxEntry[] = [];
  const waiters = new Set<{ predicate: (e: InboxEntry) => boolean; resolve: (e: InboxEntry) => void }>();

  const record = (entry: InboxEntry) => {
    entries.push(entry);
    for (const w of waiters) {
      if (w.predicate(entry)) {
        waiters.delete(w);
        w.resolve(entry);
      }
    }
  };

  const handle = (kind: InboxKind, name: string, headers: Record<string, string>, body: string) => {
    const json = tryJson(body);
    const base = { kind, name, receivedAt: new Date(), headers, body, ...(json !== undefined ? { json } : {}) };
    if (down.has(name)) {
      record({ ...base, status: 503, failure: 'down', summary: 'down (503)' });
      log(`inbox ${kind}/${name}: answered 503 (set down)`);
      return { status: 503, text: 'down' };
    }
    if (kind === 'webhooks') {
      const secret = secrets.get(name);
      const event = z
        .looseObject({ type: z.string().optional(), subject: z.string().optional() })
        .safeParse(json ?? {});
      const what = event.success ? `${event.data.type ?? '?'} ${event.data.subject ?? ''}`.trim() : '(not JSON)';
      if (!secret) {
        record({ ...base, status: 401, verified: false, failure: 'untrusted', summary: what });
        log(`inbox webhook ${name}: ${what} NOT verified (no secret trusted for ${name})`);
        return { status: 401, text: 'no secret trusted for this name' };
      }
      const verdict = verifyWebhook(secret, headers, body, {
        now: options.now?.(),
        toleranceSeconds: options.toleranceSeconds,
      });
      if (!verdict.ok) {
        record({ ...base, status: 401, verified: false, failure: verdict.code, summary: what });
        log(`inbox webhook ${name}: ${what} NOT verified (${verdict.code})`);
        return { status: 401, text: verdict.code };
      }
      record({ ...base, status: 200, verified: true, summary: what });
      log(`inbox webhook ${name}: ${what} verified (webhook-id ${verdict.id})`);
      return { status: 200, text: 'ok' };
    }
    if (kind === 'teams') {
      const parsed = teamsWorkflowPayloadSchema.safeParse(json);
      if (!parsed.success) {
        record({ ...base, status: 400, failure: 'invalid_payload', summary: 'not a Workflows Adaptive Card payload' });
        log(`inbox teams ${name}: refused a payload that is not a Workflows Adaptive Card message`);
        return { status: 400, text: 'invalid payload: expected {"type":"message","attachments":[adaptive card]}' };
      }
      const summary = summarizeTeamsCard(parsed.data);
      record({ ...base, status: 202, summary });
      log(`inbox teams ${name}: ${summary}`);
      return { status: 202, text: '' };
    }
    const parsed = slackPayloadSchema.safeParse(json);
    if (!parsed.success) {
      record({ ...base, status: 400, failure: 'invalid_payload', summary: 'not a Slack message payload' });
      log(`inbox slack ${name}: refused a payload without text or blocks`);
      return { status: 400, text: json === undefined ? 'invalid_payload' : 'no_text' };
    }
    const summary = summarizeSlack(parsed.data);
    record({ ...base, status: 200, summary });
    log(`inbox slack ${name}: ${summary}`);
    return { status: 200, text: 'ok' };
  };

  const server = http.createServer((req, res) => {
    const match = ROUTE.exec((req.url ?? '').split('?')[0] ?? '');
    if (!match) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not an inbox route');
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST', 'content-type': 'text/plain' }).end('POST only');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) {
        res.writeHead(413, { 'content-type': 'text/plain' }).end('body too large');
        return;
      }
      const answer = handle(
        match[1] as InboxKind,
        match[2]!,
        lowerHeaders(req.headers),
        Buffer.concat(chunks).toString('utf8'),
      );
      res.writeHead(answer.status, { 'content-type': 'text/plain' }).end(answer.text);
    });
    req.on('error', () => res.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url,
    trust: (name, secret) => {
      secrets.set(name, secret);
    },
    setDown: (name, isDown) => {
      if (isDown) down.add(name);
      else down.delete(name);
    },
    received: () => [...entries],
    waitFor: (predicate, timeoutMs = 10_000) => {
      const already = entries.find(predicate);
      if (already) return Promise.resolve(already);
      return new Promise<InboxEntry>((resolve, reject) => {
        const waiter = {
          predicate,
          resolve: (e: InboxEntry) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`webhook inbox: nothing matching arrived within ${timeoutMs} ms (${entries.length} received)`),
          );
        }, timeoutMs);
        waiters.add(waiter);
      });
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
