import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebhookInbox, type WebhookInbox } from '../../../local/webhookInbox';
import { generateWebhookSecret, webhookHeaders } from '../../../shared/webhooks/signing';

const event = JSON.stringify({
  specversion: '1.0',
  id: 'evt-0123',
  type: 'tunedrop.run.completed',
  subject: 'run-abc',
  data: { runId: 'run-abc' },
});

const teamsPayload = {
  type: 'message',
  attachments: [
    {
      contentType: 'application/vnd.microsoft.card.adaptive',
      contentUrl: null,
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.5',
        body: [
          { type: 'TextBlock', text: 'Run completed: support-bot', weight: 'Bolder', size: 'Medium' },
          {
            type: 'Container',
            items: [
              {
                type: 'FactSet',
                facts: [
                  { title: 'Model', value: 'llama-3.1-8b' },
                  { title: 'Duration', value: '42m' },
                ],
              },
            ],
          },
        ],
        actions: [{ type: 'Action.OpenUrl', title: 'Report', url: 'http://127.0.0.1/r' }],
      },
    },
  ],
};

describe('local webhook inbox', () => {
  let inbox: WebhookInbox;
  const lines: string[] = [];
  const secret = generateWebhookSecret();
  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${inbox.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const signed = (body: string, key = secret) => webhookHeaders(key, 'evt-0123', Math.floor(Date.now() / 1000), body);

  beforeAll(async () => {
    inbox = await startWebhookInbox({ port: 0, log: (l) => lines.push(l) });
    inbox.trust('ci', secret);
  });
  afterAll(() => inbox.stop());

  it('accepts a correctly signed delivery, records it verified and logs one line with type and run', async () => {
    const res = await post('/inbox/webhooks/ci', event, signed(event));
    expect(res.status).toBe(200);
    const entry = inbox.received().at(-1);
    expect(entry).toMatchObject({ kind: 'webhooks', name: 'ci', status: 200, verified: true });
    expect(entry?.summary).toBe('tunedrop.run.completed run-abc');
    expect(lines.at(-1)).toBe('inbox webhook ci: tunedrop.run.completed run-abc verified (webhook-id evt-0123)');
  });

  it('answers 401 to a wrong secret, a tampered body, and a name nobody trusted', async () => {
    expect((await post('/inbox/webhooks/ci', event, signed(event, generateWebhookSecret()))).status).toBe(401);
    expect(inbox.received().at(-1)).toMatchObject({ verified: false, failure: 'invalid_signature' });
    expect((await post('/inbox/webhooks/ci', event.replace('abc', 'abd'), signed(event))).status).toBe(401);
    expect((await post('/inbox/webhooks/ci', event, {})).status).toBe(401);
    expect(inbox.received().at(-1)).toMatchObject({ failure: 'missing_headers' });
    expect((await post('/inbox/webhooks/stranger', event, signed(event))).status).toBe(401);
    expect(inbox.received().at(-1)).toMatchObject({ failure: 'untrusted' });
    expect(lines.at(-1)).toContain('NOT verified');
    expect(lines.join('\n')).not.toContain(secret);
  });

  it('answers 503 while a name is down, and verifies again once it is up', async () => {
    inbox.setDown('ci', true);
    expect((await post('/inbox/webhooks/ci', event, signed(event))).status).toBe(503);
    inbox.setDown('ci', false);
    expect((await post('/inbox/webhooks/ci', event, signed(event))).status).toBe(200);
  });

  it('takes a Teams Workflows Adaptive Card with 202 and summarises title and facts', async () => {
    const res = await post('/inbox/teams/ml-team', JSON.stringify(teamsPayload));
    expect(res.status).toBe(202);
    expect(inbox.received().at(-1)).toMatchObject({
      kind: 'teams',
      summary: 'Run completed: support-bot | Model llama-3.1-8b | Duration 42m',
    });
    expect(lines.at(-1)).toBe('inbox teams ml-team: Run completed: support-bot | Model llama-3.1-8b | Duration 42m');
    expect((await post('/inbox/teams/ml-team', JSON.stringify({ text: 'legacy connector card' }))).status).toBe(400);
  });

  it('takes a Slack message with 200 "ok" and summarises header and fields', async () => {
    const slack = {
      text: 'Run completed',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Run completed: support-bot' } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Model*\nllama-3.1-8b' },
            { type: 'mrkdwn', text: '*Duration*\n42m' },
          ],
        },
      ],
    };
    const res = await post('/inbox/slack/ml-team', JSON.stringify(slack));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok');
    expect(inbox.received().at(-1)?.summary).toBe('Run completed: support-bot | *Model* llama-3.1-8b | *Duration* 42m');
    const bad = await post('/inbox/slack/ml-team', JSON.stringify({}));
    expect([bad.status, await bad.text()]).toEqual([400, 'no_text']);
  });

  it('waits for an entry that has not arrived yet, and gives up after the timeout', async () => {
    const waiting = inbox.waitFor((e) => e.kind === 'slack' && e.summary === 'later', 2000);
    await post('/inbox/slack/x', JSON.stringify({ text: 'later' }));
    expect((await waiting).name).toBe('x');
    await expect(inbox.waitFor((e) => e.name === 'never', 50)).rejects.toThrow(/within 50 ms/);
  });

  it('answers 404 off the inbox routes and 405 to other methods', async () => {
    expect((await post('/elsewhere', '{}')).status).toBe(404);
    expect((await fetch(`${inbox.url}/inbox/webhooks/ci`)).status).toBe(405);
  });
});
