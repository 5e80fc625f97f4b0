/**
 * `schedule` blocks → ScheduleDefinition, and ScheduleDefinition → the `spec` of Temporal
 * ScheduleOptions (cron expressions, a one-off calendar time, or an interval).
 */
import type { CalendarSpec, ScheduleSpec } from '@temporalio/client';
import type * as A from './ast.js';
import type { ProblemSink } from './compile-context.js';

/** A schedule for one agent, as written in the definition. */
export interface ScheduleDefinition {
  /** The schedule's name; becomes the Temporal Schedule id. */
  readonly id: string;
  /** Name of the agent to start. */
  readonly agent: string;
  /** Five-field cron expressions. */
  readonly cron?: string[];
  /** One-off local date-time `YYYY-MM-DDTHH:MM[:SS]` (in `timezone`, UTC by default). */
  readonly at?: string;
  /** Every so many milliseconds (`interval: 1h`). */
  readonly intervalMs?: number;
  /** IANA time zone, e.g. `Europe/Paris`. */
  readonly timezone?: string;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
] as const;
const MACROS = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly']);

/** Returns why a cron expression is invalid, or undefined when it is a valid 5-field expression. */
export function cronProblem(cron: string): string | undefined {
  const text = cron.trim();
  if (MACROS.has(text)) return undefined;
  const parts = text.split(/\s+/);
  if (parts.length !== 5) {
    return `cron '${cron}' has ${parts.length} field${parts.length === 1 ? '' : 's'}; use 5: minute hour day-of-month month day-of-week, e.g. "0 2 * * *"`;
  }
  for (let i = 0; i < 5; i++) {
    const field = FIELDS[i] as (typeof FIELDS)[number];
    const names: readonly string[] = 'names' in field ? field.names : [];
    const num = (s: string): number | undefined => {
      const idx = names.indexOf(s.toUpperCase());
      if (idx >= 0) return idx + field.min;
      return /^[0-9]+$/.test(s) ? Number(s) : undefined;
    };
    for (const item of (parts[i] as string).split(',')) {
      const m = /^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/([0-9]+))?$/.exec(item);
      const bad = `cron '${cron}': ${field.name} '${parts[i]}' is not valid; use *, a number ${field.min}-${field.max}, a range a-b, a list a,b or a step */n`;
      if (!m) return bad;
      if (m[2] !== undefined && Number(m[2]) === 0) return bad;
      if (m[1] === '*') continue;
      for (const bound of (m[1] as string).split('-')) {
        const n = num(bound);
        if (n === undefined || n < field.min || n > field.max) return bad;
      }
    }
  }
  return undefined;
}

const AT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/;

/** Compiles a schedule block; undefined (with problems) when it is not valid. */
export function compileSchedule(
  s: A.ScheduleDef,
  agents: ReadonlySet<string>,
  sink: ProblemSink,
): ScheduleDefinition | undefined {
  const before = sink.problems.length;
  const out: {
    id: string;
    agent?: string;
    cron?: string[];
    at?: string;
    intervalMs?: number;
    timezone?: string;
  } = { id: s.name.name };
  for (const e of s.entries) {
    const key = e.key.name;
    const v = e.value;
    const text = v.kind === 'String' ? v.value : v.kind === 'Identifier' ? v.name : undefined;
    switch (key) {
      case 'agent':
        if (text === undefined) sink.error(v.span, 'agent is the name of an agent, e.g. agent: "summarizer"');
        else {
          out.agent = text;
          if (!agents.has(text))
            sink.warning(v.span, `agent '${text}' is not defined in this file; it must already be deployed`);
        }
        break;
      case 'cron': {
        const problem = text === undefined ? 'cron is a string such as "0 2 * * *"' : cronProblem(text);
        if (problem) sink.error(v.span, problem);
        else (out.cron ??= []).push((text as string).trim());
        break;
      }
      case 'at':
        if (text === undefined || !validAt(text))
          sink.error(v.span, 'at is a local date-time "YYYY-MM-DDTHH:MM[:SS]", e.g. "2030-01-01T09:30:00"');
        else out.at = text;
        break;
      case 'interval':
      case 'every':
        if (v.kind !== 'Duration' || !Number.isInteger(v.ms) || v.ms < 1000)
          sink.error(v.span, `${key} is a duration of at least 1s, e.g. 15m`);
        else out.intervalMs = v.ms;
        break;
      case 'timezone':
        if (text === undefined || !validZone(text))
          sink.error(
            v.span,
            `timezone '${text ?? '?'}' is not an IANA time zone such as "UTC" or "Europe/Paris"`,
          );
        else out.timezone = text;
        break;
      default:
        sink.error(
          e.key.span,
          `schedule attribute '${key}' is unknown; use cron, at, interval, timezone and agent`,
        );
    }
  }
  if (out.agent === undefined)
    sink.error(s.name.span, `schedule '${s.name.name}' needs agent: "<agent name>"`);
  const timeKeys = new Set(['cron', 'at', 'interval', 'every']);
  if (!s.entries.some((e) => timeKeys.has(e.key.name))) {
    sink.error(
      s.name.span,
      `schedule '${s.name.name}' needs a time: cron: "0 2 * * *", at: "2030-01-01T09:30" or interval: 1h`,
    );
  }
  if (sink.problems.slice(before).some((p) => p.severity === 'error')) return undefined;
  return out as ScheduleDefinition;
}

function validAt(text: string): boolean {
  const m = AT.exec(text);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  return (
    date.getUTCFullYear() === y &&
    date.getUTCMonth() === mo - 1 &&
    date.getUTCDate() === d &&
    h < 24 &&
    mi < 60 &&
    s < 60
  );
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const MONTHS = [
  'JANUARY',
  'FEBRUARY',
  'MARCH',
  'APRIL',
  'MAY',
  'JUNE',
  'JULY',
  'AUGUST',
  'SEPTEMBER',
  'OCTOBER',
  'NOVEMBER',
  'DECEMBER',
] as const;

/** The `spec` of Temporal ScheduleOptions for a schedule definition. */
export function toTemporalScheduleSpec(def: ScheduleDefinition): ScheduleSpec {
  const spec: ScheduleSpec = {};
  if (def.cron?.length) spec.cronExpressions = [...def.cron];
  if (def.at !== undefined) {
    const m = AT.exec(def.at);
    if (!m) throw new RangeError(`schedule '${def.id}': at '${def.at}' is not "YYYY-MM-DDTHH:MM[:SS]"`);
    const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0)) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const calendar: CalendarSpec = {
      year: y,
      month: MONTHS[mo - 1],
      dayOfMonth: d,
      hour: h,
      minute: mi,
      second: s,
      comment: `once at ${def.at}`,
    };
    spec.calendars = [calendar];
  }
  if (def.intervalMs !== undefined) spec.intervals = [{ every: def.intervalMs }];
  spec.timezone = def.timezone ?? 'UTC';
  return spec;
}
