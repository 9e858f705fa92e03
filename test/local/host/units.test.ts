import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBlobPathPattern, resolveBindingExpressions } from '../../../local/host/blobPath';
import { expandGlob, resolveEntryPoints } from '../../../local/host/loader';
import { parseNcrontab, parseTimeSpan } from '../../../local/host/ncrontab';
import { compareRoutes, matchRoute, parseRouteTemplate } from '../../../local/host/routes';
import { type TimerInfoWire, TimerScheduler } from '../../../local/host/timerTrigger';
import { TEST_APP, VirtualClock } from './support';

const next = (expression: string, after: string) => parseNcrontab(expression).next(new Date(after)).toISOString();

describe('NCRONTAB schedules', () => {
  it('computes the next occurrence for common six-field schedules (UTC)', () => {
    expect(next('0 */5 * * * *', '2026-01-01T00:02:30Z')).toBe('2026-01-01T00:05:00.000Z');
    expect(next('0 */5 * * * *', '2026-01-01T00:05:00Z')).toBe('2026-01-01T00:10:00.000Z');
    expect(next('*/15 * * * * *', '2026-01-01T00:00:14.900Z')).toBe('2026-01-01T00:00:15.000Z');
    expect(next('0 30 9 * * 1-5', '2026-01-02T10:00:00Z')).toBe('2026-01-05T09:30:00.000Z'); // Fri → Mon
    expect(next('0 0 0 1 Jan *', '2026-03-01T00:00:00Z')).toBe('2027-01-01T00:00:00.000Z');
    expect(next('0 0 12 * * SUN', '2026-01-01T00:00:00Z')).toBe('2026-01-04T12:00:00.000Z');
    expect(next('5,10 0 0 * * *', '2026-01-01T00:00:05Z')).toBe('2026-01-01T00:00:10.000Z');
  });

  it('requires both the day and the day-of-week to match (NCrontab, not cron OR)', () => {
    // The 13th that is a Friday.
    expect(next('0 0 0 13 * 5', '2026-01-01T00:00:00Z')).toBe('2026-02-13T00:00:00.000Z');
  });

  it('rejects malformed schedules with a coded error', () => {
    expect(() => parseNcrontab('*/5 * * * *')).toThrow(/invalid_binding: .*six fields/);
    expect(() => parseNcrontab('0 61 * * * *')).toThrow(/minute field "61"/);
    expect(() => parseNcrontab('0 0 0 30 2 *').next(new Date('2026-01-01T00:00:00Z'))).toThrow(/never occurs/);
  });

  it('reads TimeSpan schedules as intervals', () => {
    expect(parseTimeSpan('00:05:00')).toBe(300_000);
    expect(parseTimeSpan('1.02:00:00')).toBe(26 * 3_600_000);
    expect(parseTimeSpan('0 */5 * * * *')).toBeUndefined();
  });
});

describe('HTTP route templates', () => {
  const segs = (p: string) => p.split('/').filter(Boolean);

  it('matches parameters, constraints, optional and catch-all parameters', () => {
    expect(matchRoute(parseRouteTemplate('runs/{id}'), segs('runs/abc'))).toEqual({ id: 'abc' });
    expect(matchRoute(parseRouteTemplate('runs/{id:int}'), segs('runs/abc'))).toBeUndefined();
    expect(matchRoute(parseRouteTemplate('runs/{id?}'), segs('runs'))).toEqual({});
    expect(matchRoute(parseRouteTemplate('files/{*rest}'), segs('files/a/b/c.txt'))).toEqual({ rest: 'a/b/c.txt' });
    expect(matchRoute(parseRouteTemplate('Runs/{id}'), segs('runs/1'))).toEqual({ id: '1' });
    expect(matchRoute(parseRouteTemplate('runs/{id}'), segs('runs/1/extra'))).toBeUndefined();
  });

  it('orders literal segments before parameters and catch-alls last', () => {
    const routes = ['runs/{id}', 'files/{*rest}', 'runs/latest', 'runs/{id:int}'].map(parseRouteTemplate);
    expect(routes.sort(compareRoutes).map((r) => r.template)).toEqual([
      'runs/latest',
      'runs/{id:int}',
      'runs/{id}',
      'files/{*rest}',
    ]);
  });
});

describe('blob paths', () => {
  it('matches trigger patterns with parameters spanning folders and reports the listing prefix', () => {
    const pattern = parseBlobPathPattern('datasets/{team}/{dataset}/run.json');
    expect(pattern.container).toBe('datasets');
    expect(pattern.prefix).toBe('');
    expect(pattern.match('support/faq-v1/run.json')).toEqual({ team: 'support', dataset: 'faq-v1' });
    expect(pattern.match('support/faq-v1/train.jsonl')).toBeUndefined();
    expect(parseBlobPathPattern('c01/drops/{name}.json').prefix).toBe('drops/');
    expect(() => parseBlobPathPattern('Bad_Container/{name}')).toThrow(/not a valid container name/);
  });

  it('resolves binding expressions from trigger data', () => {
    expect(resolveBindingExpressions('reports/{team}/{Name}.md', { team: 't', name: 'x' })).toBe('reports/t/x.md');
    expect(resolveBindingExpressions('out/{rand-guid}', {})).toMatch(/^out\/[0-9a-f-]{36}$/);
    expect(() => resolveBindingExpressions('out/{missing}', {})).toThrow(/invalid_binding/);
  });
});

describe('app loading', () => {
  it('expands package.json main as Azure does (a glob relative to the app root)', () => {
    const { main, files } = resolveEntryPoints(TEST_APP);
    expect(main).toBe('functions/**/*.js');
    expect(files.map((f) => path.relative(TEST_APP, f))).toEqual([
      'functions/blob.js',
      'functions/events.js',
      'functions/hooks.js',
      'functions/http.js',
      'functions/timer.js',
    ]);
    expect(expandGlob(TEST_APP, 'apps/{extension,unhandled}/**/*.js').map((f) => path.relative(TEST_APP, f))).toEqual([
      'apps/extension/functions/custom.js',
      'apps/unhandled/index.js',
    ]);
  });

  it('fails with a coded error when main matches nothing', () => {
    expect(() => resolveEntryPoints(path.join(TEST_APP, 'functions'))).toThrow(/invalid_app_package/);
  });
});

describe('timer scheduler', () => {
  it('reaches occurrences further away than setTimeout allows, and marks a run after a skipped one past due', async () => {
    const clock = new VirtualClock(new Date('2026-01-01T00:00:00Z'));
    const runs: { at: string; timer: TimerInfoWire }[] = [];
    let release: (() => void) | undefined;
    const scheduler = new TimerScheduler({
      clock,
      watches: [
        { functionName: 'yearly', schedule: '0 0 0 1 Jan *', runOnStartup: false },
        { functionName: 'slow', schedule: '0 0 * * * *', runOnStartup: false },
      ],
      invoke: async (functionName, timer) => {
        runs.push({ at: `${functionName}@${new Date(clock.now()).toISOString()}`, timer });
        if (functionName === 'slow' && !release) await new Promise<void>((r) => (release = r));
      },
      log: () => {},
    });
    await scheduler.start();
    const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
    clock.advance(2 * 3_600_000); // 02:00: the 01:00 run of "slow" is still going, so 02:00 is skipped
    release?.();
    await settle();
    clock.advance(3_600_000); // 03:00
    await settle();
    clock.advance(3_600_000); // 04:00
    await settle();
    clock.advance(365 * 24 * 3_600_000 - 4 * 3_600_000); // to 2027-01-01T00:00:00Z
    await scheduler.stop();
    const yearly = runs.filter((r) => r.at.startsWith('yearly'));
    expect(yearly.map((r) => r.at)).toEqual(['yearly@2027-01-01T00:00:00.000Z']);
    expect(runs.slice(0, 3).map((r) => [r.at, r.timer.IsPastDue])).toEqual([
      ['slow@2026-01-01T01:00:00.000Z', false],
      ['slow@2026-01-01T03:00:00.000Z', true],
      ['slow@2026-01-01T04:00:00.000Z', false],
    ]);
  });
});
