/**
 * Workflow code bundled into the Temporal worker: the agent lifecycle workflow, and the record of
 * each SDK agent instance hosted by the gateways. Deterministic only.
 */
export { agentWorkflow } from './agent-workflow.js';
export { hostedAgentWorkflow } from './hosted-agent-workflow.js';
