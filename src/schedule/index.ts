/**
 * Schedules: the **scheduled** execution mode on real Temporal Schedules. `createSchedule` validates a
 * schedule and its agent config (zod), asks the policies, and creates a Temporal Schedule whose
 * action starts the agent workflow (one run per due time, `agent-<id>-<time>`); `listSchedules`,
 * `describeSchedule`, `pauseSchedule`, `unpauseSchedule`, `triggerSchedule` and `deleteSchedule` are
 * the operator's other verbs (`ars schedule ...`). `ars apply` installs DSL schedules with the same
 * id, action and memo (`scheduleId`, `scheduleAction`, `upsertSchedule`).
 */
export { formatDuration, parseDuration } from './duration.js';
export { ScheduleExistsError, ScheduleNotFoundError, SchedulePolicyDeniedError } from './errors.js';
export { checkSchedulePolicy } from './policy-check.js';
export {
  DEFAULT_SCHEDULE_OPTIONS,
  MIN_INTERVAL_MS,
  OVERLAP_POLICIES,
  TEMPORAL_OVERLAP,
  compileScheduleOptions,
  overlapName,
  type OverlapPolicy,
  type ScheduleOptions,
  type ScheduleOptionsInput,
} from './schedule-options.js';
export {
  DEFAULT_TRIGGER_WAIT_MS,
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  triggerSchedule,
  unpauseSchedule,
  type CreatedSchedule,
  type ScheduleInfo,
  type ScheduleRun,
  type TriggerOptions,
  type TriggeredRun,
} from './schedules.js';
export {
  SCHEDULE_ID_PREFIX,
  describeScheduleTimes,
  readScheduleMemo,
  scheduleAction,
  scheduleId,
  scheduleMemo,
  scheduleNameOf,
  upsertSchedule,
  type ScheduleMemo,
} from './temporal-schedule.js';
