/**
 * `ars apply`: deploys a definition file of the agent DSL (src/dsl) — its Cedar policies into the
 * policy directory the control worker watches, its agents as workflows and its schedules as Temporal
 * Schedules — after checking that the file compiles, that the policy set still loads with its
 * policies and that policy admits every agent. Nothing is deployed when a check fails.
 */
export {
  applyFile,
  type AppliedAgent,
  type AppliedPolicyFile,
  type AppliedSchedule,
  type ApplyDeps,
  type ApplyInput,
  type ApplyResult,
} from './apply-file.js';
export {
  ApplyCompileError,
  ApplyInstallError,
  ApplyPolicyDeniedError,
  ApplyPolicyLoadError,
  type DeniedAgent,
  type PartialDeployment,
} from './errors.js';
export {
  DEFAULT_APPLY_OPTIONS,
  compileApplyOptions,
  type ApplyOptions,
  type ApplyOptionsInput,
} from './options.js';
export {
  DSL_POLICY_SUBDIR,
  planPolicyFiles,
  writeFileAtomic,
  type PlannedPolicyFile,
} from './policy-files.js';
export { scheduleAction, scheduleId, upsertSchedule } from './schedules.js';
