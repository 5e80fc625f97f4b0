import type { PublishResult, RequestOptions, StateSnapshot, SubscribeOptions } from './context.js';
import type { AgentDefinition } from './define-agent.js';
import type { AgentEndpoint } from './endpoint.js';

/** Options of a message sent from outside any agent (a client, a test) or on an agent's behalf. */
export interface SendOptions {
  /** The sending agent's id; absent for messages from outside the system. */
  readonly from?: string;
}

/**
 * The agent runtime's semantics, the same whatever carries the messages: the in-process runtime
 * (direct calls) and the distributed one (src/gateway: gateways relaying over Redis Streams). The
 * conformance suite (test/conformance/suite.ts) checks these semantics against each runtime.
 */
export interface AgentRuntime {
  /** Registers an agent type: a definition (run in this process) or an endpoint (another process). */
  register(agent: AgentDefinition | AgentEndpoint): Promise<void>;
  /** Resolves once the recipient accepted the message (validated, queued); rejects if it did not. */
  send(to: string, type: string, payload: unknown, options?: SendOptions): Promise<void>;
  request<R = unknown>(
    to: string,
    type: string,
    payload: unknown,
    options?: SendOptions & RequestOptions,
  ): Promise<R>;
  /** Publishing to a topic nobody subscribes to is not an error (deliveredTo is empty). */
  publish(topic: string, type: string, payload: unknown, options?: SendOptions): Promise<PublishResult>;
  broadcast(type: string, payload: unknown, options?: SendOptions): Promise<number>;
  subscribe(agentId: string, topic: string, options?: SubscribeOptions): Promise<void>;
  unsubscribe(agentId: string, topic: string): Promise<boolean>;
  /** Ephemeral agent: a fresh instance of `agentType` runs `task` and is discarded. */
  run<R = unknown>(agentType: string, task: unknown, options?: RequestOptions): Promise<R>;
  /** The agent's state: live if active, else its last checkpoint; undefined if it has none. */
  saveState(agentId: string): Promise<StateSnapshot | undefined>;
  /** Installs a snapshot (validated): applied at once if active, and stored for the next activation. */
  restoreState(agentId: string, snapshot: StateSnapshot): Promise<void>;
  /** Hibernates an agent: waits for its queue, checkpoints its state and drops the instance. */
  deactivate(agentId: string): Promise<void>;
  close(): Promise<void>;
}
