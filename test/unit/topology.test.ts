import { describe, expect, it } from 'vitest';
import { isoDurationToMs, SUBSCRIPTIONS, subscriptionMatches, TOPOLOGY } from '../../shared/events/topology';
import { EVENT_TYPES } from '../../shared/events/types';

const sub = (name: string) => {
  const s = TOPOLOGY.subscriptions.find((x) => x.name === name);
  if (!s) throw new Error(`no subscription ${name}`);
  return s;
};
const msg = (type: string) => ({
  contentType: 'application/cloudevents+json',
  applicationProperties: { type, team: 'nlp', model: 'm' },
});

describe('service bus topology', () => {
  it('has the topic and the subscriptions the code names (three consumers of events, one of webhook attempts)', () => {
    expect(TOPOLOGY.topic.name).toBe('training-events');
    expect(TOPOLOGY.subscriptions.map((s) => s.name).sort()).toEqual(Object.values(SUBSCRIPTIONS).sort());
  });

  it('routes only run.completed to register-model', () => {
    const routed = EVENT_TYPES.filter((t) => subscriptionMatches(sub('register-model'), msg(t)));
    expect(routed).toEqual(['tunedrop.run.completed']);
  });

  it('routes everything to webhooks and the human-facing events to notify-teams', () => {
    expect(EVENT_TYPES.every((t) => subscriptionMatches(sub('webhooks'), msg(t)))).toBe(true);
    expect(subscriptionMatches(sub('notify-teams'), msg('tunedrop.run.status_changed'))).toBe(false);
    expect(subscriptionMatches(sub('notify-teams'), msg('tunedrop.run.failed'))).toBe(true);
  });

  it('routes webhook attempt messages to webhook-retries only, and no event there', () => {
    const attempt = { contentType: 'application/vnd.tunedrop.webhook-attempt+json', messageId: 'dl_x:2' };
    expect(TOPOLOGY.subscriptions.filter((s) => subscriptionMatches(s, attempt)).map((s) => s.name)).toEqual([
      'webhook-retries',
    ]);
    expect(EVENT_TYPES.some((t) => subscriptionMatches(sub('webhook-retries'), msg(t)))).toBe(false);
  });

  it('routes scheduled notification retries to notify-teams only', () => {
    const retry = { contentType: 'application/vnd.tunedrop.notify-retry+json', messageId: 'evt:notify:2' };
    expect(TOPOLOGY.subscriptions.filter((s) => subscriptionMatches(s, retry)).map((s) => s.name)).toEqual([
      'notify-teams',
    ]);
  });

  it('only filters on known event types', () => {
    for (const s of TOPOLOGY.subscriptions) {
      for (const r of s.rules) {
        const type = r.correlationFilter?.properties.type;
        if (type !== undefined) expect(EVENT_TYPES).toContain(type);
      }
    }
  });

  it('parses ISO durations', () => {
    expect(isoDurationToMs('PT10M')).toBe(600_000);
    expect(isoDurationToMs('P14D')).toBe(14 * 86_400_000);
    expect(isoDurationToMs('PT1H30S')).toBe(3_630_000);
    expect(() => isoDurationToMs('10m')).toThrow();
  });
});
