/**
 * The agent host and the stdio protocol (docs/stdio-protocol.md): `serveAgent` is the agent end
 * (main.ts runs it inside a sandbox, loading a defineAgent() handler module), StdioAgentConnection
 * is the host end that spawns the process (node, python3, or `docker run -i` with the hardened
 * flags from dockerAgentCommand) and exposes the agent to a runtime as an AgentEndpoint.
 */
export { serveAgent, type AgentSideOptions } from './agent-side.js';
export {
  StdioAgentConnection,
  compileStdioAgentOptions,
  defaultAgentEnv,
  AGENT_ENV_ALLOWLIST,
  AGENT_ENV_ALLOWED_PREFIXES,
  DOCKER_CLI_ENV_ALLOWLIST,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type StdioAgentOptions,
  type StdioAgentOptionsInput,
} from './connection.js';
export { dockerAgentCommand, type DockerAgentCommandInput } from './docker-command.js';
export { agentDefinitionsOf, loadAgentDefinition } from './load-definition.js';
export { encodeFrame, FrameDecoder, FRAME_HEADER_BYTES, type Decoded } from './framing.js';
export {
  agentFrameSchema,
  hostFrameSchema,
  PROTOCOL_VERSION,
  PROTOCOL_VERSIONS,
  PROTOCOL_ERROR_CODES,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  type AgentFrame,
  type HostFrame,
} from './protocol.js';
export { ProtocolError, AgentProcessExitedError, AgentUnresponsiveError } from './errors.js';
export { OnDemandEndpoint, type OnDemandEndpointInput, type ProcessEndpoint } from './on-demand-endpoint.js';
