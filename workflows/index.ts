/**
 * Workflow code bundled into the Temporal worker: the agent lifecycle workflow. Deterministic only.
 */
export { agentWorkflow } from './agent-workflow.js';
