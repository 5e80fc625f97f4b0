/**
 * The operator's schedule operations on real Temporal Schedules: create (validated, policy-checked),
 * list (ARS schedules only), describe, pause, unpause, trigger (run now) and delete. An unknown name
 * is a ScheduleNotFoundError; a name in use is a ScheduleExistsError.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError as TemporalScheduleNotFoundError,
  type ScheduleDescription,
  type ScheduleExecutionResult,
  type ScheduleHandle,
  type ScheduleSpecDescription,
} from '@temporalio/client';
import type { ArsClient } from '../client/index.js';
import type { AgentConfig, Settings } from '../config/index.js';
import { toTemporalScheduleSpec } from '../dsl/index.js';
import { formatDuration } from './duration.js';
import { ScheduleExistsError, ScheduleNotFoundError, SchedulePolicyDeniedError } from './errors.js';
import { checkSchedulePolicy } from './policy-check.js';
import {
  TEMPORAL_OVERLAP,
  compileScheduleOptions,
  overlapName,
  type OverlapPolicy,
  type ScheduleOptionsInput,
} from './schedule-options.js';
import {
  readScheduleMemo,
  scheduleAction,
  scheduleId,
  scheduleMemo,
  scheduleNameOf,
} from './temporal-schedule.js';

/** One run a schedule started. */
export interface ScheduleRun {
  /** When the run was due. */
  readonly scheduledAt: Date;
  /** When Temporal started it. */
  readonly takenAt: Date;
  /** The agent workflow of the run, `agent-<agent id>-<time>`. */
  readonly workflowId: string;
}

/** An ARS schedule as `ars schedule ls` shows it. */
export interface ScheduleInfo {
  readonly name: string;
  /** Temporal Schedule id, `ars-schedule-<name>`. */
  readonly scheduleId: string;
  /** Name of the agent it starts. */
  readonly agent: string;
  /** Id of the agent config; runs are `agent-<agentId>-<time>`. */
  readonly agentId: string | undefined;
  /** The times, as written (`cron 0 3 * * *`, `every 30s`). */
  readonly spec: string;
  readonly timezone: string;
  readonly paused: boolean;
  readonly note: string | undefined;
  readonly overlap: OverlapPolicy;
  /** The next times it will run (empty when paused). */
  readonly nextRuns: readonly Date[];
  /** The latest run, if any. */
  readonly lastRun: ScheduleRun | undefined;
  /** Recent runs, oldest first (Temporal keeps the last few). */
  readonly recentRuns: readonly ScheduleRun[];
  /** Workflow ids of the runs still running. */
  readonly running: readonly string[];
  readonly runsTaken: number;
  readonly createdAt: Date;
  /** Temporal UI page of the schedule. */
  readonly ui: string;
}

/** What `createSchedule` returns. */
export interface CreatedSchedule extends ScheduleInfo {
  /** The compiled agent config each run starts with. */
  readonly config: AgentConfig;
  /** Host whose worker runs the sandboxes. */
  readonly hostId: string;
}

/** What `triggerSchedule` returns. */
export interface TriggeredRun {
  readonly name: string;
  /** The workflow of the run just started, or undefined when none appeared in time (e.g. skipped by the overlap policy). */
  readonly workflowId: string | undefined;
  /**
   * The run id of that workflow's first execution. Temporal names a schedule's runs by the second they
   * start, so two runs started within one second share the workflow id and differ only here.
   */
  readonly runId: string | undefined;
  /** Temporal UI page of that workflow. */
  readonly ui: string | undefined;
}

export interface TriggerOptions {
  /** Overlap policy for this run. @default the schedule's own policy (`skip` unless created otherwise) */
  readonly overlap?: OverlapPolicy;
  /** How long to wait for the started run to appear, in ms (0: do not wait). @default 30000 */
  readonly waitMs?: number;
}

/** How long `triggerSchedule` waits for the run to appear by default. */
export const DEFAULT_TRIGGER_WAIT_MS = 30_000;

const uiBase = (settings: Settings): string =>
  `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}`;

const toRun = (r: ScheduleExecutionResult): ScheduleRun => ({
  scheduledAt: r.scheduledAt,
  takenAt: r.takenAt,
  workflowId: r.action.workflow.workflowId,
});

/** A readable form of a Temporal spec, for schedules whose memo does not carry the written one. */
function describeSpec(spec: ScheduleSpecDescription): string {
  const parts = [
    ...(spec.intervals ?? []).map((i) => `every ${formatDuration(Number(i.every))}`),
    ...(spec.calendars ?? []).map((c) => c.comment ?? 'calendar'),
  ];
  return parts.join(' | ') || '(no times)';
}

function toInfo(d: ScheduleDescription, name: string, settings: Settings): ScheduleInfo {
  const memo = readScheduleMemo(d.memo);
  const input = d.action.args?.[0] as { config?: { id?: unknown; name?: unknown } } | undefined;
  const configId = typeof input?.config?.id === 'string' ? input.config.id : undefined;
  const recentRuns = d.info.recentActions.map(toRun);
  return {
    name,
    scheduleId: d.scheduleId,
    agent: memo?.arsAgent ?? (typeof input?.config?.name === 'string' ? input.config.name : ''),
    agentId: memo?.arsAgentId ?? configId,
    spec: memo?.arsSpec ?? describeSpec(d.spec),
    timezone: d.spec.timezone ?? 'UTC',
    paused: d.state.paused,
    note: d.state.note || undefined,
    overlap: overlapName(d.policies.overlap),
    nextRuns: d.info.nextActionTimes,
    lastRun: recentRuns.at(-1),
    recentRuns,
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    runsTaken: d.info.numActionsTaken,
    createdAt: d.info.createdAt,
    ui: `${uiBase(settings)}/schedules/${encodeURIComponent(d.scheduleId)}`,
  };
}

/** Runs `fn` on the schedule's handle; Temporal's not-found becomes ScheduleNotFoundError. */
async function onSchedule<T>(
  client: ArsClient,
  name: string,
  fn: (handle: ScheduleHandle) => Promise<T>,
): Promise<T> {
  try {
    return await fn(client.temporal.schedule.getHandle(scheduleId(name)));
  } catch (error) {
    if (error instanceof TemporalScheduleNotFoundError)
      throw new ScheduleNotFoundError(name, { cause: error });
    throw error;
  }
}

/**
 * Creates a schedule that starts the agent (one run, in `scheduled` mode, per due time). Validates the
 * input and the agent config (ConfigError naming each field), asks the policies (SchedulePolicyDeniedError),
 * and refuses a name in use (ScheduleExistsError); nothing is created when any of these fails.
 */
export async function createSchedule(
  client: ArsClient,
  input: ScheduleOptionsInput,
): Promise<CreatedSchedule> {
  const o = compileScheduleOptions(input);
  const { settings } = client;
  const hostId = o.hostId ?? settings.hostId;
  const log = o.logger.child({ component: 'schedule', schedule: o.name });
  if (o.policyCheck) {
    const decision = checkSchedulePolicy(o.agent, settings.policyDir, hostId);
    if (decision.decision !== 'allow') {
      log.warn({ reasons: decision.reasons, errors: decision.errors }, 'schedule refused by policy');
      throw new SchedulePolicyDeniedError(o.name, o.agent.name, decision.reasons, decision.errors);
    }
  }
  try {
    await client.temporal.schedule.create({
      scheduleId: o.scheduleId,
      spec: toTemporalScheduleSpec(o.definition),
      action: scheduleAction(o.agent, settings, hostId),
      memo: { ...scheduleMemo(o.definition, o.agent.id) },
      policies: { overlap: TEMPORAL_OVERLAP[o.overlap] },
      state: { paused: o.paused, ...(o.note !== undefined ? { note: o.note } : {}) },
    });
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) throw new ScheduleExistsError(o.name, { cause: error });
    throw error;
  }
  log.info({ scheduleId: o.scheduleId, agent: o.agent.name, agentId: o.agent.id }, 'schedule created');
  return { ...(await describeSchedule(client, o.name)), config: o.agent, hostId };
}

/** The schedule named `name`, described from Temporal (ScheduleNotFoundError when there is none). */
export async function describeSchedule(client: ArsClient, name: string): Promise<ScheduleInfo> {
  const d = await onSchedule(client, name, (h) => h.describe());
  return toInfo(d, name, client.settings);
}

/**
 * The ARS schedules (id `ars-schedule-*` with an ARS memo), by name; other Temporal Schedules are
 * ignored. Temporal lists schedules from its visibility store, which lags a just-created schedule by
 * a moment; each listed schedule is then described, so its state is current.
 */
export async function listSchedules(client: ArsClient): Promise<ScheduleInfo[]> {
  const names: string[] = [];
  for await (const summary of client.temporal.schedule.list()) {
    const name = scheduleNameOf(summary.scheduleId);
    if (name !== undefined && readScheduleMemo(summary.memo) !== undefined) names.push(name);
  }
  const out: ScheduleInfo[] = [];
  for (const name of names.sort()) {
    try {
      out.push(await describeSchedule(client, name));
    } catch (error) {
      // Deleted between the listing and the description.
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }
  return out;
}

/** Pauses the schedule: no run starts until `unpauseSchedule` (trigger still runs it). */
export async function pauseSchedule(client: ArsClient, name: string, note?: string): Promise<ScheduleInfo> {
  await onSchedule(client, name, (h) => h.pause(note ?? 'paused with ars schedule pause'));
  return describeSchedule(client, name);
}

/** Unpauses the schedule: runs start again at their due times. */
export async function unpauseSchedule(client: ArsClient, name: string, note?: string): Promise<ScheduleInfo> {
  await onSchedule(client, name, (h) => h.unpause(note ?? 'unpaused with ars schedule unpause'));
  return describeSchedule(client, name);
}

/**
 * Starts a run now (even when paused) under the schedule's overlap policy, or `options.overlap`, and
 * waits up to `waitMs` for its workflow to appear among the schedule's running or recent actions.
 * Returns its workflow id and run id, or undefined when none appeared (under `skip`, a trigger while an earlier
 * run still runs starts nothing). The schedule's policy is passed explicitly: Temporal's SDK would
 * otherwise use `allow-all`, and Temporal does not track runs started under `allow-all` as running,
 * so later `skip` decisions would not see them.
 */
export async function triggerSchedule(
  client: ArsClient,
  name: string,
  options: TriggerOptions = {},
): Promise<TriggeredRun> {
  const waitMs = options.waitMs ?? DEFAULT_TRIGGER_WAIT_MS;
  // runs are told apart by run id: two runs started within one second share the workflow id
  const seen = (d: ScheduleDescription): { workflowId: string; firstExecutionRunId: string }[] => [
    ...d.info.recentActions.map((a) => a.action.workflow),
    ...d.info.runningActions.map((a) => a.workflow),
  ];
  return onSchedule(client, name, async (h) => {
    const current = await h.describe();
    const before = new Set(seen(current).map((w) => w.firstExecutionRunId));
    await h.trigger(
      options.overlap !== undefined ? TEMPORAL_OVERLAP[options.overlap] : current.policies.overlap,
    );
    const deadline = Date.now() + waitMs;
    for (;;) {
      const started = seen(await h.describe()).find((w) => !before.has(w.firstExecutionRunId));
      if (started !== undefined) {
        return {
          name,
          workflowId: started.workflowId,
          runId: started.firstExecutionRunId,
          ui: `${uiBase(client.settings)}/workflows/${encodeURIComponent(started.workflowId)}`,
        };
      }
      if (Date.now() >= deadline) return { name, workflowId: undefined, runId: undefined, ui: undefined };
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}

/** Deletes the schedule. Runs it already started go on to their end. */
export async function deleteSchedule(client: ArsClient, name: string): Promise<void> {
  await onSchedule(client, name, (h) => h.delete());
}
