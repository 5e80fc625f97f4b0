/**
 * The agent gateway: the runtime each host worker runs. It hosts agent types (in-process, or in a
 * sandbox over the stdio protocol) and relays what their agents do through the bus — signed and
 * encrypted with the agent's keys, checked by the pre-send policy hook, audited — with a shared
 * directory in Redis that places each active agent id on one live gateway. See docs/gateway.md.
 */
export {
  AgentGateway,
  createGateway,
  agentBusId,
  gatewayBusId,
  type AgentExit,
  type CreateGatewayInput,
} from './gateway.js';
export {
  GatewayDirectory,
  RedisStateStore,
  directoryKeys,
  rendezvous,
  type AgentTypeInfo,
  type GatewayInfo,
} from './directory.js';
export {
  compileGatewayOptions,
  DEFAULT_GATEWAY_OPTIONS,
  type GatewayOptions,
  type GatewayOptionsInput,
} from './options.js';
export { GatewayClosedError, MessageDeniedError, MessageNotAuditedError } from './errors.js';
export {
  AGENT_LIFECYCLE_KINDS,
  type AgentLifecycleKind,
  type AgentLifecycleListener,
  type AgentLifecycleReport,
} from './lifecycle.js';
export { gatewayFrameSchema, type GatewayFrame } from './protocol.js';
export { runtimeLocation, startGatewayNode, type GatewayNode, type GatewayNodeInput } from './start.js';
export {
  MAX_EVENT_BYTES,
  TRIGGER_AGENT_TYPE,
  TriggerEndpoint,
  TriggerRegistry,
  type TriggerEvent,
  type TriggerRegistration,
} from './triggers.js';
