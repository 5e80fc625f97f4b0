/**
 * Configuration: the AgentConfig and Task schemas (zod), compiled once with defaults and a resolved
 * tier, and the runtime settings read from ARS_* variables. Errors name the field and the fix.
 * Workflow code checks tasks with `checkTask`, importing task-check.js directly (it loads no zod).
 */
export {
  agentConfigSchema,
  compileAgentConfig,
  compileTask,
  taskSchema,
  resourceLimitsSchema,
  sandboxSpecSchema,
  DEFAULT_RESOURCES,
  DEFAULT_TASKS_PER_RUN,
  EXECUTION_MODES,
  RISK_LEVELS,
  RISK_TIER,
  SECURITY_TIERS,
  type AgentConfig,
  type AgentConfigInput,
  type ExecutionMode,
  type ResourceLimits,
  type RiskLevel,
  type SecurityTier,
  type Task,
  type TaskInput,
} from './agent-config.js';
export { checkTask } from './task-check.js';
export { ENV_NAME, TASK_MESSAGES, TIMEOUT_MS_BOUNDS } from './task-rules.js';
export { ConfigError, parseOrThrow, toProblems, type ConfigProblem } from './errors.js';
export {
  compileSettings,
  hostTaskQueue,
  workflowUiUrl,
  DEFAULT_SETTINGS,
  type Settings,
} from './settings.js';
