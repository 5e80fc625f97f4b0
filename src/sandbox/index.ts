/**
 * Sandboxes: hardened Docker containers (runc) and gVisor (runsc as a Docker runtime) whose scratch
 * space is writable only when policy grants it (`SandboxGrants`), created,
 * run under a wall-clock limit, paused, unpaused and destroyed idempotently, plus the reaper that
 * removes containers whose agent workflow has ended.
 */
export {
  DockerSandbox,
  DEFAULT_OUTPUT_LIMIT_BYTES,
  DEFAULT_READY_CACHE_MS,
  type DockerSandboxOptions,
  type RunOptions,
  type SandboxRunResult,
} from './docker-sandbox.js';
export {
  containerCreateOptions,
  LABELS,
  LEGACY_SANDBOX_GRANTS,
  SANDBOX_USER,
  TIER_RUNTIME,
  type SandboxGrants,
  type SandboxSpec,
} from './container-spec.js';
export {
  NON_RETRYABLE_SANDBOX_ERRORS,
  SandboxImageMissingError,
  SandboxLostError,
  SandboxUnavailableError,
} from './errors.js';
export { demuxDockerLogs } from './logs.js';
