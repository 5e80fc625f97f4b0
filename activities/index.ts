/**
 * Activity factories. Each takes its dependencies explicitly (no module-level singletons) and
 * returns plain async functions for a Temporal worker to register.
 */
export {
  createSandboxActivities,
  sandboxName,
  type CreateSandboxInput,
  type PrepareSandboxInput,
  type RunSandboxInput,
  type SandboxActivities,
  type SandboxActivityDeps,
} from './sandbox.js';
export {
  createControlActivities,
  type Admission,
  type AdmitAgentInput,
  type CapabilityGrants,
  type GrantCapabilitiesInput,
  type ControlActivities,
  type ControlActivityDeps,
  type DecisionRecord,
  type TerminationInput,
} from './control.js';
