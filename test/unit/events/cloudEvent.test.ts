import { describe, expect, it } from 'vitest';
import { createEvent, EventError, eventIdFor, parseEvent } from '../../../shared/events/cloudEvent';
import { EVENT_TYPES } from '../../../shared/events/types';

const runId = 'run-0123456789abcdef0123456789abcdef';
const base = { runId, team: 'nlp', dataset: 'support-bot', model: 'meta-llama/Meta-Llama-3.1-8B-Instruct' };
const time = '2026-11-27T10:00:00.000Z';

const statusChanged = (sequence: number, status: 'running' | 'completed', previousStatus: 'queued' | 'running') =>
  createEvent('tunedrop.run.status_changed', {
    subject: runId,
    team: 'nlp',
    model: base.model,
    time,
    data: { ...base, providerRunName: 'ift-abc', status, previousStatus, sequence },
  });

describe('CloudEvents envelope', () => {
  it('builds a CloudEvents 1.0 envelope with subject = run id and team/model extensions', () => {
    const e = createEvent('tunedrop.run.submitted', {
      subject: runId,
      team: 'nlp',
      model: base.model,
      time: new Date(time),
      data: { ...base, providerRunName: 'ift-abc', status: 'submitted', submittedAt: time },
    });
    expect(e).toMatchObject({
      specversion: '1.0',
      source: '/tunedrop',
      type: 'tunedrop.run.submitted',
      subject: runId,
      time,
      datacontenttype: 'application/json',
      team: 'nlp',
      model: base.model,
    });
    expect(e.id).toMatch(/^[0-9a-f]{32}$/);
    expect(parseEvent(JSON.stringify(e))).toEqual(e);
  });

  it('gives the same fact the same id and a different fact a different id', () => {
    expect(statusChanged(1, 'running', 'queued').id).toBe(statusChanged(1, 'running', 'queued').id);
    expect(statusChanged(2, 'completed', 'running').id).not.toBe(statusChanged(1, 'running', 'queued').id);
    // same status reached again later in the run is a new fact
    expect(statusChanged(3, 'running', 'queued').id).not.toBe(statusChanged(1, 'running', 'queued').id);
    // time is not part of the fact: a replay a second later builds the identical id
    const later = createEvent('tunedrop.run.failed', {
      subject: runId,
      team: 'nlp',
      time: '2026-11-27T10:00:01Z',
      data: { ...base, status: 'failed', reason: 'OOM' },
    });
    const earlier = createEvent('tunedrop.run.failed', {
      subject: runId,
      team: 'nlp',
      time,
      data: { ...base, status: 'failed', reason: 'OOM' },
    });
    expect(later.id).toBe(earlier.id);
    expect(eventIdFor('tunedrop.run.failed', 'run-other', '')).not.toBe(earlier.id);
    expect(eventIdFor('tunedrop.run.cancelled', runId, '')).not.toBe(earlier.id);
  });

  it('ids model.registered by model name and version', () => {
    const reg = (version: string) =>
      createEvent('tunedrop.model.registered', {
        subject: runId,
        team: 'nlp',
        time,
        data: {
          ...base,
          modelFullName: 'ml.nlp.support_bot',
          version,
          alias: 'champion',
          lineage: { manifestUrl: 'https://acct.blob.core.windows.net/datasets/nlp/support-bot/run.json' },
        },
      }).id;
    expect(reg('3')).toBe(reg('3'));
    expect(reg('4')).not.toBe(reg('3'));
  });

  it('rejects data that does not fit the type with a coded error naming the paths, not the values', () => {
    const attempt = () =>
      createEvent('tunedrop.dataset.validated', {
        subject: runId,
        team: 'nlp',
        time,
        data: {
          ...base,
          task: 'chat',
          manifestUrl: 'not a url?sig=SECRETSAS',
          reports: { json: 'https://x/r.json', markdown: 'https://x/r.md' },
        },
      });
    expect(attempt).toThrowError(EventError);
    try {
      attempt();
    } catch (err) {
      const e = err as EventError;
      expect(e.code).toBe('invalid_event_data');
      expect(e.issues.map((i) => i.path)).toEqual(['data.manifestUrl']);
      expect(e.message).not.toContain('SECRETSAS');
    }
  });

  it('rejects unknown keys when producing but keeps them when consuming', () => {
    const data = { ...base, status: 'failed' as const, reason: 'OOM' };
    expect(() =>
      createEvent('tunedrop.run.failed', {
        subject: runId,
        team: 'nlp',
        time,
        data: { ...data, reasn: 'typo' } as typeof data,
      }),
    ).toThrowError(/data\.?: Unrecognized key|reasn/);
    const e = createEvent('tunedrop.run.failed', { subject: runId, team: 'nlp', time, data });
    const newer = { ...e, data: { ...e.data, gpuHours: 12 } };
    expect(parseEvent(newer).data).toMatchObject({ reason: 'OOM', gpuHours: 12 });
  });

  it('refuses foreign or broken envelopes with coded errors', () => {
    const ok = createEvent('tunedrop.run.cancelled', {
      subject: runId,
      team: 'nlp',
      time,
      data: { ...base, status: 'cancelled' },
    });
    const code = (input: unknown) => {
      try {
        parseEvent(input);
        return 'parsed';
      } catch (err) {
        return (err as EventError).code;
      }
    };
    expect(code(ok)).toBe('parsed');
    expect(code({ ...ok, type: 'com.example.other' })).toBe('unknown_event_type');
    expect(code({ ...ok, specversion: '0.3' })).toBe('invalid_event');
    expect(code('{not json')).toBe('invalid_event');
    expect(code({ ...ok, data: { ...ok.data, status: 'exploded' } })).toBe('invalid_event_data');
  });

  it('has a data schema for every event type', () => {
    for (const type of EVENT_TYPES) {
      expect(() => createEvent(type, { subject: runId, team: 'nlp', time, data: {} as never })).toThrowError(
        expect.objectContaining({ code: 'invalid_event_data' }),
      );
    }
  });
});
