/**
 * DSL schedules → Temporal Schedules that start the agent's workflow. The mapping (id, action, memo,
 * create-or-update) lives in src/schedule, shared with `ars schedule`; re-exported here for apply.
 */
export { scheduleAction, scheduleId, upsertSchedule } from '../schedule/index.js';
