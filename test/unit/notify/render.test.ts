import { describe, expect, it } from 'vitest';
import { createEvent, type TunedropEvent } from '../../../shared/events';
import {
  DEFAULT_CHANNEL_EVENTS,
  describeEvent,
  escapeSlack,
  escapeSlackClipped,
  formatDuration,
  renderSlackMessage,
  renderTeamsMessage,
  slackMessageSchema,
  teamsWorkflowMessageSchema,
} from '../../../shared/notify';
import { EVENTS, RUN_ID, runRecord } from './events';

const links = { publicBaseUrl: 'https://tunedrop.example.com/', databricksHost: 'https://adb-1.2.azuredatabricks.net' };
const all = Object.entries(EVENTS) as [string, TunedropEvent][];

describe('describeEvent', () => {
  it.each(all)('%s: title, outcome and the facts people need', (_, event) => {
    const notice = describeEvent(event, runRecord(), links);
    expect(notice.eventId).toBe(event.id);
    expect(notice.runId).toBe(RUN_ID);
    const facts = Object.fromEntries(notice.facts.map((f) => [f.label, f.value]));
    expect(facts).toMatchObject({
      Team: 'support',
      Dataset: 'support-bot',
      'Base model': 'meta-llama/Meta-Llama-3.1-8B-Instruct',
    });
    expect(notice.links.find((l) => l.label === 'Run details')?.url).toBe(
      'https://tunedrop.example.com/api/runs/run-1',
    );
    expect(notice.links.find((l) => l.label === 'Validation report')?.url).toMatch(/\/run-1\/validation\.md$/);
  });

  it('gives each terminal outcome its own colour and status', () => {
    const outcome = (e: TunedropEvent) => {
      const n = describeEvent(e, runRecord(), links);
      return [n.outcome, n.status];
    };
    expect(outcome(EVENTS.rejected)).toEqual(['failure', 'rejected']);
    expect(outcome(EVENTS.submitted)).toEqual(['info', 'submitted']);
    expect(outcome(EVENTS.completed)).toEqual(['success', 'completed']);
    expect(outcome(EVENTS.failed)).toEqual(['failure', 'failed']);
    expect(outcome(EVENTS.cancelled)).toEqual(['warning', 'cancelled']);
    expect(outcome(EVENTS.timedOut)).toEqual(['failure', 'timed out']);
    expect(outcome(EVENTS.registered)).toEqual(['success', 'registered']);
  });

  it('model.registered: registered model, version with alias, duration since the run was created, MLflow and UC links', () => {
    const n = describeEvent(EVENTS.registered, runRecord(), links);
    const facts = Object.fromEntries(n.facts.map((f) => [f.label, f.value]));
    expect(facts['Registered model']).toBe('ml.support.support_bot');
    expect(facts.Version).toBe('3 (@candidate)');
    expect(facts.Duration).toBe('2h 05m');
    expect(n.links.map((l) => l.url)).toEqual([
      'http://127.0.0.1:10000/devstoreaccount1/reports/support/support-bot/run-1/validation.md',
      'https://tunedrop.example.com/api/runs/run-1',
      'https://adb-1.2.azuredatabricks.net/ml/experiments/4242/runs/mlrun-9',
      'https://adb-1.2.azuredatabricks.net/explore/data/models/ml/support/support_bot/version/3',
    ]);
  });

  it('run.submitted has no duration; a rejection lists codes with counts and the first message', () => {
    expect(describeEvent(EVENTS.submitted, runRecord()).durationMs).toBeUndefined();
    const n = describeEvent(EVENTS.rejected, runRecord());
    expect(n.durationMs).toBe(42_000);
    expect(n.reasons).toEqual(['invalid_json (3×): line 4: Unexpected token } in JSON', 'last_not_assistant (1×)']);
  });

  it('failed / cancelled / timed out carry their reason; no run record and no settings mean fewer links, not a crash', () => {
    expect(describeEvent(EVENTS.failed, undefined).reasons).toEqual(['CUDA out of memory at step 120']);
    expect(describeEvent(EVENTS.cancelled, undefined).reasons).toEqual(['cancelled by alice via the API']);
    expect(describeEvent(EVENTS.timedOut, undefined).reasons[0]).toContain('2026-12-04T10:00:00.000Z');
    expect(describeEvent(EVENTS.failed, undefined).links).toEqual([]);
    expect(describeEvent(EVENTS.failed, undefined).durationMs).toBeUndefined();
    const { model: _, ...noModel } = EVENTS.rejected.data;
    const malformed = createEvent('tunedrop.dataset.rejected', { ...EVENTS.rejected, model: undefined, data: noModel });
    const facts = describeEvent(malformed, runRecord({ model: 'unknown' })).facts.map((f) => f.label);
    expect(facts).not.toContain('Base model');
  });

  it('drops links that are not http(s) (z.url() admits javascript:)', () => {
    const event = createEvent('tunedrop.dataset.rejected', {
      ...EVENTS.rejected,
      data: { ...EVENTS.rejected.data, reports: { json: 'javascript:alert(1)', markdown: 'javascript:alert(1)' } },
    });
    expect(describeEvent(event, undefined).links).toEqual([]);
  });

  it('caps reasons at five plus a count', () => {
    const errorCounts = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`code_${i}`, i + 1]));
    const event = createEvent('tunedrop.dataset.rejected', {
      ...EVENTS.rejected,
      data: { ...EVENTS.rejected.data, errorSummary: { errorCounts, firstErrors: [] } },
    });
    const reasons = describeEvent(event, undefined).reasons;
    expect(reasons).toHaveLength(6);
    expect(reasons[5]).toBe('…and 3 more');
  });

  it('formats durations', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(192_000)).toBe('3m 12s');
    expect(formatDuration(7_500_000)).toBe('2h 05m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 4h');
  });
});

describe('Teams Workflows message', () => {
  it.each(all)('%s: a valid Adaptive Card 1.5 in the Workflows envelope', (_, event) => {
    const message = renderTeamsMessage(describeEvent(event, runRecord(), links));
    expect(teamsWorkflowMessageSchema.safeParse(message).error).toBeUndefined();
    expect(message.type).toBe('message');
    expect(message.attachments[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(message.attachments[0]?.contentUrl).toBeNull();
    const card = message.attachments[0]!.content;
    expect(card.version).toBe('1.5');
    expect(card.actions?.every((a) => a.type === 'Action.OpenUrl' && /^https?:\/\//.test(a.url))).toBe(true);
  });

  it('colours the header by outcome and shows registered model, version and alias', () => {
    const card = renderTeamsMessage(describeEvent(EVENTS.registered, runRecord(), links)).attachments[0]!.content;
    const header = card.body[0];
    expect(header).toMatchObject({ type: 'Container', style: 'good' });
    const failed = renderTeamsMessage(describeEvent(EVENTS.failed, runRecord(), links)).attachments[0]!.content;
    expect(failed.body[0]).toMatchObject({ type: 'Container', style: 'attention' });
    const cancelled = renderTeamsMessage(describeEvent(EVENTS.cancelled, runRecord(), links)).attachments[0]!.content;
    expect(cancelled.body[0]).toMatchObject({ type: 'Container', style: 'warning' });
    const facts = card.body.find((b) => b.type === 'FactSet');
    expect(facts).toMatchObject({
      facts: expect.arrayContaining([
        { title: 'Registered model', value: 'ml.support.support_bot' },
        { title: 'Version', value: '3 (@candidate)' },
        { title: 'Duration', value: '2h 05m' },
      ]),
    });
    expect(card.actions?.map((a) => a.title)).toEqual([
      'Validation report',
      'Run details',
      'MLflow run',
      'Model in Unity Catalog',
    ]);
  });

  it('puts reasons in TextRuns (no markdown) and defangs markdown links in facts; hostile strings stay valid JSON', () => {
    const hostile =
      'x"}]},{"type":"Action.OpenUrl","url":"https://evil.example"}\n</script>\u2028[click](https://evil.example)';
    const event = createEvent('tunedrop.run.failed', {
      ...EVENTS.failed,
      data: { ...EVENTS.failed.data, dataset: '[click me](https://evil.example)', reason: hostile },
    });
    const message = renderTeamsMessage(describeEvent(event, runRecord(), links));
    const json = JSON.stringify(message);
    expect(JSON.parse(json)).toEqual(message);
    const card = message.attachments[0]!.content;
    expect(card.actions?.some((a) => a.url.includes('evil'))).toBe(false);
    const reason = card.body.find((b) => b.type === 'RichTextBlock');
    expect(reason).toMatchObject({ inlines: [{ type: 'TextRun' }] });
    const dataset = card.body.flatMap((b) => (b.type === 'FactSet' ? b.facts : [])).find((f) => f.title === 'Dataset');
    expect(dataset?.value).toBe('[click me]\u200B(https://evil.example)');
    // Outside TextRuns (plain text by definition) no markdown link survives.
    const markdownText = JSON.stringify({ ...card, body: card.body.filter((b) => b.type !== 'RichTextBlock') });
    expect(markdownText).not.toMatch(/\]\(https:\/\/evil/);
  });
});

describe('Slack incoming-webhook message', () => {
  it.each(all)('%s: text fallback plus header, fields, context and buttons within Block Kit limits', (_, event) => {
    const message = renderSlackMessage(describeEvent(event, runRecord(), links));
    expect(slackMessageSchema.safeParse(message).error).toBeUndefined();
    expect(message.blocks.map((b) => b.type)).toEqual(
      expect.arrayContaining(['header', 'section', 'context', 'actions']),
    );
    expect(message.text).toContain('support/support-bot');
  });

  it('model.registered: fields carry model, version and alias; buttons link out', () => {
    const message = renderSlackMessage(describeEvent(EVENTS.registered, runRecord(), links));
    expect(message.text).toBe('✅ Model registered: support/support-bot → ml.support.support_bot v3');
    const fields = message.blocks.find((b) => b.type === 'section' && 'fields' in b);
    expect(JSON.stringify(fields)).toContain('*Version*\\n3 (@candidate)');
    const actions = message.blocks.find((b) => b.type === 'actions');
    expect(actions && 'elements' in actions && actions.elements.map((e) => e.url)).toContain(
      'https://tunedrop.example.com/api/runs/run-1',
    );
  });

  it('escapes &, < and > so user strings cannot become links or mentions', () => {
    expect(escapeSlack('<https://evil.example|click> & <!channel>')).toBe(
      '&lt;https://evil.example|click&gt; &amp; &lt;!channel&gt;',
    );
    const event = createEvent('tunedrop.run.failed', {
      ...EVENTS.failed,
      data: { ...EVENTS.failed.data, dataset: '<https://evil.example|docs>', reason: 'see <!here> & <@U123>' },
    });
    const message = renderSlackMessage(describeEvent(event, runRecord(), links));
    const json = JSON.stringify(message);
    expect(json).not.toMatch(/<https:\/\/evil|<!here>|<@U123>/);
    expect(json).toContain('&lt;https://evil.example|docs&gt;');
    expect(json).toContain('see &lt;!here&gt; &amp; &lt;@U123&gt;');
    expect(message.text).toContain('&lt;https://evil.example|docs&gt;');
  });

  it('clips long values without cutting an entity in half', () => {
    const clipped = escapeSlackClipped(`${'a'.repeat(8)}<<<<`, 12);
    expect(clipped).toBe('aaaaaaaa…');
    expect(escapeSlackClipped('short & sweet', 100)).toBe('short &amp; sweet');
  });
});

describe('defaults', () => {
  it('a channel without `events` hears failures, rejections and registrations — not submissions or completions', () => {
    expect(DEFAULT_CHANNEL_EVENTS).toEqual([
      'tunedrop.dataset.rejected',
      'tunedrop.run.failed',
      'tunedrop.run.cancelled',
      'tunedrop.run.timed_out',
      'tunedrop.model.registered',
      // Only when a model the team may train was removed (isQuietByDefault): test/unit/catalog/refresh.test.ts.
      'tunedrop.catalog.changed',
    ]);
  });
});
