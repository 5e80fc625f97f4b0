/**
 * How an ARS schedule maps onto a Temporal Schedule: its id (`ars-schedule-<name>`), its action (start
 * the agent workflow with the agent's config), its memo (what `ars schedule ls` shows and how ARS
 * schedules are told apart from others) and the create-or-update used by `ars apply`.
 */
import { ScheduleAlreadyRunning, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { AgentConfig, Settings } from '../config/index.js';
import { toTemporalScheduleSpec, type ScheduleDefinition } from '../dsl/index.js';
import { agentWorkflowStart } from '../client/index.js';
import { AGENT_WORKFLOW_TYPE } from '../../workflows/definitions.js';
import { formatDuration } from './duration.js';

/** Every ARS Temporal Schedule id starts with this. */
export const SCHEDULE_ID_PREFIX = 'ars-schedule-';

/** Temporal Schedule id of an ARS schedule. */
export const scheduleId = (name: string): string => `${SCHEDULE_ID_PREFIX}${name}`;

/** The ARS schedule name of a Temporal Schedule id, or undefined when the id is not an ARS one. */
export const scheduleNameOf = (id: string): string | undefined =>
  id.startsWith(SCHEDULE_ID_PREFIX) && id.length > SCHEDULE_ID_PREFIX.length
    ? id.slice(SCHEDULE_ID_PREFIX.length)
    : undefined;

/** What ARS keeps in the memo of its Temporal Schedules. */
export interface ScheduleMemo {
  /** Name of the agent the schedule starts (present on every ARS schedule). */
  readonly arsAgent: string;
  /** The schedule's ARS name. */
  readonly arsSchedule: string;
  /** Id of the agent config; each run is the workflow `agent-<id>-<start time>`. */
  readonly arsAgentId?: string;
  /** The times as written: `cron 0 3 * * *`, `every 30s`, `at 2030-01-01T09:30`. */
  readonly arsSpec?: string;
}

/** Reads the ARS memo of a schedule; undefined when it carries none (not an ARS schedule). */
export function readScheduleMemo(memo: Record<string, unknown> | undefined): ScheduleMemo | undefined {
  if (memo === undefined || typeof memo.arsAgent !== 'string') return undefined;
  const text = (key: string): string | undefined => (typeof memo[key] === 'string' ? memo[key] : undefined);
  const agentId = text('arsAgentId');
  const spec = text('arsSpec');
  return {
    arsAgent: memo.arsAgent,
    arsSchedule: text('arsSchedule') ?? '',
    ...(agentId !== undefined ? { arsAgentId: agentId } : {}),
    ...(spec !== undefined ? { arsSpec: spec } : {}),
  };
}

/** The times of a schedule definition as an operator would write them. */
export function describeScheduleTimes(def: ScheduleDefinition): string {
  const parts = [
    ...(def.cron ?? []).map((c) => `cron ${c}`),
    ...(def.at !== undefined ? [`at ${def.at}`] : []),
    ...(def.intervalMs !== undefined ? [`every ${formatDuration(def.intervalMs)}`] : []),
  ];
  const zone = def.timezone ?? 'UTC';
  return `${parts.join(' | ')}${zone === 'UTC' ? '' : ` (${zone})`}`;
}

/** The memo of the Temporal Schedule of `def`. */
export function scheduleMemo(def: ScheduleDefinition, agentId?: string): ScheduleMemo {
  return {
    arsAgent: def.agent,
    arsSchedule: def.id,
    ...(agentId !== undefined ? { arsAgentId: agentId } : {}),
    arsSpec: describeScheduleTimes(def),
  };
}

/**
 * The action of the schedule: start the agent workflow with the agent's config. Temporal appends the
 * start time to the workflow id, so each run is its own workflow `agent-<config id>-<time>`.
 */
export function scheduleAction(
  config: AgentConfig,
  settings: Settings,
  hostId: string,
): ScheduleOptionsAction {
  const start = agentWorkflowStart(config, settings, { hostId });
  return {
    type: 'startWorkflow',
    workflowType: AGENT_WORKFLOW_TYPE,
    ...start,
    staticSummary: `scheduled ${start.staticSummary}`,
  };
}

/** The agent config id inside a schedule action built by `scheduleAction`. */
const actionAgentId = (action: ScheduleOptionsAction): string | undefined => {
  const input = action.args?.[0] as { config?: { id?: unknown } } | undefined;
  return typeof input?.config?.id === 'string' ? input.config.id : undefined;
};

/**
 * Creates the schedule, or updates it when one with the same id exists (re-applying a DSL file
 * changes its schedules in place, keeping their paused state and note). Returns what was done.
 */
export async function upsertSchedule(
  temporal: Client,
  def: ScheduleDefinition,
  action: ScheduleOptionsAction,
): Promise<'created' | 'updated'> {
  const id = scheduleId(def.id);
  const spec = toTemporalScheduleSpec(def);
  const memo = { ...scheduleMemo(def, actionAgentId(action)) };
  try {
    await temporal.schedule.create({ scheduleId: id, spec, action, memo });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await temporal.schedule.getHandle(id).update((previous) => ({
    spec,
    action,
    policies: previous.policies,
    state: { paused: previous.state.paused, note: previous.state.note },
  }));
  return 'updated';
}
