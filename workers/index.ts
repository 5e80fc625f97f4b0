/**
 * Worker building blocks (control worker, host worker with its reaper, connections). The files
 * control.ts, host.ts and standalone.ts are runnable entry points built on these.
 */
export {
  connect,
  createControlWorker,
  createHostWorker,
  runWorkers,
  workflowSource,
  DEFAULT_REAP_INTERVAL_MS,
  type ControlWorker,
  type ControlWorkerDeps,
  type ControlWorkerTuning,
  type HostWorker,
  type HostWorkerDeps,
  type RunWorkersOptions,
  type WorkerDeps,
  type WorkerRole,
} from './workers.js';
export { installQuietRuntime } from './quiet-runtime.js';
export {
  startPolicyEnforcer,
  DEFAULT_ENFORCE_INTERVAL_MS,
  type PolicyEnforcer,
  type PolicyEnforcerOptions,
} from './policy-enforcer.js';
export {
  GATEWAY_TIERS,
  HostGatewayError,
  loadAgentModules,
  startHostGateway,
  type GatewayTier,
  type HostGateway,
  type HostGatewayInput,
} from './host-gateway.js';
export {
  DEFAULT_REPORTER_OPTIONS,
  WorkflowLifecycleReporter,
  type LifecycleReporterInput,
  type LifecycleReporterOptions,
} from './agent-lifecycle-reporter.js';
