/**
 * The input of `createSchedule`: the schedule's name, the agent config it starts (validated by the
 * agent config schema), its times (five-field cron expressions or a fixed interval), its time zone,
 * overlap policy, initial state and the host that runs the sandboxes. Validated by zod; every problem
 * names the field (which is also the CLI flag) and the fix, and nothing is created on bad input.
 */
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { z } from 'zod';
import {
  ConfigError,
  compileAgentConfig,
  toProblems,
  type AgentConfig,
  type ConfigProblem,
} from '../config/index.js';
import { cronProblem, type ScheduleDefinition } from '../dsl/index.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { parseDuration } from './duration.js';
import { scheduleId } from './temporal-schedule.js';

/** What Temporal does when a run is due while the previous one is still running. */
export const OVERLAP_POLICIES = [
  'skip',
  'buffer-one',
  'buffer-all',
  'cancel-other',
  'terminate-other',
  'allow-all',
] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** The Temporal value of each overlap policy. */
export const TEMPORAL_OVERLAP: Readonly<Record<OverlapPolicy, ScheduleOverlapPolicy>> = {
  skip: ScheduleOverlapPolicy.SKIP,
  'buffer-one': ScheduleOverlapPolicy.BUFFER_ONE,
  'buffer-all': ScheduleOverlapPolicy.BUFFER_ALL,
  'cancel-other': ScheduleOverlapPolicy.CANCEL_OTHER,
  'terminate-other': ScheduleOverlapPolicy.TERMINATE_OTHER,
  'allow-all': ScheduleOverlapPolicy.ALLOW_ALL,
};

/** The overlap policy name of a Temporal value (the reverse of TEMPORAL_OVERLAP). */
export const overlapName = (value: string | undefined): OverlapPolicy =>
  (Object.entries(TEMPORAL_OVERLAP).find(([, v]) => v === value)?.[0] as OverlapPolicy | undefined) ?? 'skip';

/** Defaults of `createSchedule`. */
export const DEFAULT_SCHEDULE_OPTIONS = {
  /** IANA time zone of the cron expressions. @default 'UTC' */
  timezone: 'UTC',
  /** Create the schedule paused (no run until `unpause`; `trigger` still runs it). @default false */
  paused: false,
  /** A run that is due while the previous one still runs is skipped. @default 'skip' */
  overlap: 'skip',
  /** Ask the policy engine (CreateAgent, UseTier, AllocateResources) before creating. @default true */
  policyCheck: true,
} as const;

/** The shortest interval Temporal schedules run at. */
export const MIN_INTERVAL_MS = 1000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const HOST_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const validZone = (zone: string): boolean => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

const schema = z.strictObject({
  /** The schedule's name; the Temporal Schedule id is `ars-schedule-<name>`. */
  name: z
    .string({ error: 'name is required: the schedule name, e.g. nightly-report' })
    .regex(
      NAME,
      'name must be 1-63 letters, digits, _ . - and start with a letter or digit, e.g. nightly-report',
    ),
  /** The agent config (as in `ars run`): validated with the agent config schema. */
  agent: z.unknown(),
  /** Five-field cron expression(s): minute hour day-of-month month day-of-week. */
  cron: z
    .union([z.string(), z.array(z.string()).min(1)], {
      error: 'cron must be a cron expression such as "0 2 * * *" (or a list of them)',
    })
    .superRefine((value, ctx) => {
      for (const cron of typeof value === 'string' ? [value] : value) {
        const problem = cronProblem(cron);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }
    })
    .optional(),
  /** Fixed interval: a duration such as `30s`, `5m`, `1h`, or milliseconds. */
  every: z
    .union([z.string(), z.int().positive()], {
      error: 'every must be a duration such as 30s, 5m or 1h',
    })
    .superRefine((value, ctx) => {
      const ms = typeof value === 'number' ? value : parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `every '${String(value)}' is not a duration; use a number and a unit (ms, s, m, h, d), e.g. 30s, 5m, 1h or 1h30m`,
        });
      } else if (ms < MIN_INTERVAL_MS) {
        ctx.addIssue({ code: 'custom', message: 'every must be at least 1s' });
      }
    })
    .optional(),
  /** @default 'UTC' */
  timezone: z
    .string()
    .refine(validZone, 'timezone must be an IANA time zone such as "UTC" or "Europe/Paris"')
    .default(DEFAULT_SCHEDULE_OPTIONS.timezone),
  /** @default false */
  paused: z.boolean().default(DEFAULT_SCHEDULE_OPTIONS.paused),
  /** A note kept with the schedule's state (shown by `ls`). */
  note: z.string().max(1000, 'note must be at most 1000 characters').optional(),
  /** @default 'skip' */
  overlap: z.enum(OVERLAP_POLICIES).default(DEFAULT_SCHEDULE_OPTIONS.overlap),
  /** Host whose worker runs the sandboxes. @default the settings' hostId */
  hostId: z.string().regex(HOST_ID, 'hostId must be 1-63 letters, digits, _ . -').optional(),
  /** @default true */
  policyCheck: z.boolean().default(DEFAULT_SCHEDULE_OPTIONS.policyCheck),
  /** @default silentLogger */
  logger: z
    .custom<Logger>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function',
      'logger must be a pino Logger',
    )
    .optional(),
});

export type ScheduleOptionsInput = z.input<typeof schema>;

export interface ScheduleOptions {
  readonly name: string;
  /** Temporal Schedule id, `ars-schedule-<name>`. */
  readonly scheduleId: string;
  /** The schedule's times, in the form the DSL compiler also produces. */
  readonly definition: ScheduleDefinition;
  /** The compiled agent config, in `scheduled` mode; its id defaults to the schedule name. */
  readonly agent: AgentConfig;
  readonly paused: boolean;
  readonly note: string | undefined;
  readonly overlap: OverlapPolicy;
  readonly hostId: string | undefined;
  readonly policyCheck: boolean;
  readonly logger: Logger;
}

/** Modes an agent started by a schedule may have: one task per run. */
const SCHEDULABLE_MODES: readonly string[] = ['ephemeral', 'scheduled'];

/** Compiles the agent of a schedule: validated, in `scheduled` mode, with a command to run. */
function compileScheduledAgent(input: unknown, name: string): AgentConfig {
  const config = compileAgentConfig(input, () => name);
  const problems: ConfigProblem[] = [];
  if (!SCHEDULABLE_MODES.includes(config.mode)) {
    problems.push({
      path: 'mode',
      message: `a schedule starts one run of its agent each time; '${config.mode}' is not allowed here, use 'scheduled' or 'ephemeral' (start persistent agents with 'ars run')`,
    });
  }
  if (config.sandbox.command === undefined) {
    problems.push({
      path: 'sandbox.command',
      message: 'a scheduled agent needs a command to run each time, e.g. ["echo", "hello"]',
    });
  }
  if (problems.length > 0) throw new ConfigError('agent config', problems);
  return { ...config, mode: 'scheduled' };
}

/**
 * Validates the input of `createSchedule` and its agent config, applies the defaults. Throws one
 * ConfigError listing every problem (schedule fields by name, agent fields as `agent.<field>`).
 */
export function compileScheduleOptions(input: ScheduleOptionsInput): ScheduleOptions {
  const problems: ConfigProblem[] = [];
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) problems.push(...toProblems(parsed.error.issues));
  // Checked here rather than in a zod refinement, so that they are reported with the field problems.
  const raw = (input ?? {}) as { cron?: unknown; every?: unknown };
  if (raw.cron === undefined && raw.every === undefined) {
    problems.push({
      path: 'cron',
      message: 'a schedule needs a time: cron (e.g. "0 2 * * *") or every (e.g. 30s, 5m, 1h)',
    });
  } else if (raw.cron !== undefined && raw.every !== undefined) {
    problems.push({ path: 'every', message: 'give either cron or every, not both' });
  }
  const name = parsed.success ? parsed.data.name : typeof input?.name === 'string' ? input.name : '';
  let agent: AgentConfig | undefined;
  if (input === null || typeof input !== 'object' || input.agent === undefined) {
    problems.push({ path: 'agent', message: 'agent is required: the agent config the schedule starts' });
  } else {
    try {
      agent = compileScheduledAgent(input.agent, NAME.test(name) ? name : 'scheduled');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(
        ...error.problems.map((p) => ({ path: p.path ? `agent.${p.path}` : 'agent', message: p.message })),
      );
    }
  }
  if (!parsed.success || agent === undefined || problems.length > 0) {
    throw new ConfigError(name ? `schedule '${name}'` : 'schedule', problems);
  }
  const o = parsed.data;
  const definition: ScheduleDefinition = {
    id: o.name,
    agent: agent.name,
    ...(o.cron !== undefined
      ? { cron: (typeof o.cron === 'string' ? [o.cron] : o.cron).map((c) => c.trim()) }
      : {}),
    ...(o.every !== undefined
      ? { intervalMs: typeof o.every === 'number' ? o.every : parseDuration(o.every) }
      : {}),
    timezone: o.timezone,
  };
  return {
    name: o.name,
    scheduleId: scheduleId(o.name),
    definition,
    agent,
    paused: o.paused,
    note: o.note,
    overlap: o.overlap,
    hostId: o.hostId,
    policyCheck: o.policyCheck,
    logger: o.logger ?? silentLogger,
  };
}
