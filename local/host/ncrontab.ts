import { LocalHostError } from './errors';

/**
 * Azure Functions timer schedules: six-field NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}`,
 * evaluated in UTC. As in the NCrontab library the host uses, a time must match the day-of-month AND the
 * day-of-week field (not cron's OR).
 */
export interface CronSchedule {
  expression: string;
  next(after: Date): Date;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
  namesStart?: number;
}

const FIELDS: FieldSpec[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, namesStart: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: DAYS, namesStart: 0 },
];

export function parseNcrontab(expression: string): CronSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) {
    throw new LocalHostError(
      'invalid_binding',
      `timer schedule "${expression}" must have six fields: {second} {minute} {hour} {day} {month} {day-of-week}`,
    );
  }
  const [seconds, minutes, hours, days, months, weekdays] = parts.map((part, i) =>
    parseField(part, FIELDS[i] as FieldSpec, expression),
  ) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);

  return {
    expression,
    next(after: Date): Date {
      let t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
      // Enough steps to cross several years of non-matching days; an impossible schedule (Feb 30) ends here.
      for (let step = 0; step < 200_000; step++) {
        if (!months.has(t.getUTCMonth() + 1)) {
          t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
        } else if (!days.has(t.getUTCDate()) || !weekdays.has(t.getUTCDay())) {
          t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1));
        } else if (!hours.has(t.getUTCHours())) {
          t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours() + 1));
        } else if (!minutes.has(t.getUTCMinutes())) {
          t = new Date(
            Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), t.getUTCMinutes() + 1),
          );
        } else if (!seconds.has(t.getUTCSeconds())) {
          t = new Date(t.getTime() + 1000);
        } else {
          return t;
        }
      }
      throw new LocalHostError('invalid_binding', `timer schedule "${expression}" never occurs`);
    },
  };
}

function parseField(text: string, spec: FieldSpec, expression: string): Set<number> {
  const values = new Set<number>();
  const fail = (why: string): never => {
    throw new LocalHostError('invalid_binding', `timer schedule "${expression}": ${spec.name} field "${text}" ${why}`);
  };
  const value = (token: string): number => {
    const upper = token.toUpperCase();
    const named = spec.names?.indexOf(upper.slice(0, 3)) ?? -1;
    if (spec.names && named >= 0 && /^[A-Z]+$/.test(upper)) return named + (spec.namesStart ?? 0);
    if (!/^\d+$/.test(token)) fail(`has "${token}", not a number`);
    const n = Number(token);
    if (n < spec.min || n > spec.max) fail(`has ${n}, outside ${spec.min}-${spec.max}`);
    return n;
  };
  for (const item of text.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (extra !== undefined || range === undefined || range === '') fail('is not valid');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) fail(`has step "${stepText}"`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = spec.min;
      to = spec.name === 'day-of-week' ? 6 : spec.max;
    } else if (range?.includes('-')) {
      const [a, b] = range.split('-');
      from = value(a ?? '');
      to = value(b ?? '');
      if (to < from) fail('has a backwards range');
    } else {
      from = value(range ?? '');
      to = stepText !== undefined ? (spec.name === 'day-of-week' ? 6 : spec.max) : from;
    }
    for (let n = from; n <= to; n += step) values.add(n);
  }
  return values;
}

/** A TimeSpan schedule (`hh:mm:ss`, App Service plans) as milliseconds, or undefined for a cron expression. */
export function parseTimeSpan(schedule: string): number | undefined {
  const m = /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(schedule.trim());
  if (!m) return undefined;
  const [days, hours, minutes, seconds] = [m[1] ?? '0', m[2], m[3], m[4]].map(Number) as [
    number,
    number,
    number,
    number,
  ];
  const ms = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000;
  if (ms <= 0) throw new LocalHostError('invalid_binding', `timer schedule "${schedule}" must be a positive interval`);
  return ms;
}
