/**
 * The typed ARS client: `createAgent(config)`, `suspend`, `resume`, `terminate`, `status`,
 * `assignTask`, `result` and `list`, over the agent workflows in Temporal.
 */
export { ArsClient, type AgentSummary, type CreateAgentOptions, type ListOptions } from './ars-client.js';
export { agentWorkflowStart, type AgentPlacementOptions } from './start-options.js';
export {
  AgentExistsError,
  AgentFailedError,
  AgentNotFoundError,
  AgentStateError,
  AgentWaitTimeoutError,
  TaskRejectedError,
} from './errors.js';
export type { AgentResult, AgentStatus, TaskAssignment, TaskResult } from '../../workflows/definitions.js';
