/**
 * DSL schedules → Temporal Schedules that start the agent's workflow. Creating a schedule whose id
 * exists updates it instead (re-applying a file changes its schedules in place).
 */
import { ScheduleAlreadyRunning, type Client, type ScheduleOptionsAction } from '@temporalio/client';
import type { AgentConfig, Settings } from '../config/index.js';
import { toTemporalScheduleSpec, type ScheduleDefinition } from '../dsl/index.js';
import { agentWorkflowStart } from '../client/index.js';
import { AGENT_WORKFLOW_TYPE } from '../../workflows/definitions.js';

/** Temporal Schedule id of a DSL schedule. */
export const scheduleId = (name: string): string => `ars-schedule-${name}`;

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

/** Creates the schedule, or updates it when one with the same id exists. Returns what was done. */
export async function upsertSchedule(
  temporal: Client,
  def: ScheduleDefinition,
  action: ScheduleOptionsAction,
): Promise<'created' | 'updated'> {
  const id = scheduleId(def.id);
  const spec = toTemporalScheduleSpec(def);
  const memo = { arsAgent: def.agent, arsSchedule: def.id };
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
