/**
 * The agent SDK: defineAgent() for typed message handlers (zod schemas at the boundary), the
 * AgentContext a handler gets (send, publish, request, broadcast, subscriptions, state, a cancel
 * signal), the AgentRuntime contract with its in-process implementation, and the AgentEndpoint /
 * AgentExecutor pieces that let the same handler module run in another process or a sandbox (see
 * src/agent-host and docs/sdk.md).
 */
export {
  defineAgent,
  isAgentDefinition,
  CHECKPOINT_POLICIES,
  type AgentDefinition,
  type CheckpointPolicy,
  type AgentSpec,
  type MessageSchemas,
} from './define-agent.js';
export {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type AgentContext,
  type AgentStateHandle,
  type PublishResult,
  type RequestOptions,
  type StateSnapshot,
  type SubscribeOptions,
} from './context.js';
export { parseAgentId, agentId, AGENT_TYPE_PATTERN, type AgentAddress } from './agent-id.js';
export type { AgentRuntime, SendOptions } from './runtime.js';
export { InProcessRuntime, createInProcessRuntime } from './in-process-runtime.js';
export { withRequestBounds } from './request-bounds.js';
export { fanOut } from './fan-out.js';
export {
  compileRuntimeOptions,
  type RuntimeOptions,
  type RuntimeOptionsInput,
  type HandlerErrorListener,
} from './options.js';
export {
  LocalEndpoint,
  type AgentEndpoint,
  type AgentProcessExit,
  type EndpointBinding,
} from './endpoint.js';
export { AgentExecutor, type Accepted } from './executor.js';
export { runtimePort, type AgentPort, type Delivery } from './port.js';
export { MemoryStateStore, type StateStore } from './state-store.js';
export { serializeError, deserializeRuntimeError, serializedErrorSchema } from './serialized-error.js';
export {
  AgentDefinitionError,
  AgentHandlerError,
  AgentUnavailableError,
  CancelledError,
  DuplicateSubscriptionError,
  InvalidAgentIdError,
  InvalidMessageError,
  InvalidStateError,
  RequestTimeoutError,
  SelfRequestError,
  UnknownAgentTypeError,
  UnknownMessageTypeError,
  type SerializedError,
} from './errors.js';
