import type { PublishResult, StateSnapshot, SubscribeOptions } from './context.js';
import type { AgentRuntime } from './runtime.js';
import type { StateStore } from './state-store.js';

/**
 * What an agent executor needs from its surroundings: the runtime's router (in-process) or the
 * stdio link to the host's gateway (in a sandbox). `from` is always the acting agent's id.
 */
export interface AgentPort {
  send(from: string, to: string, type: string, payload: unknown): Promise<void>;
  publish(from: string, topic: string, type: string, payload: unknown): Promise<PublishResult>;
  request(
    from: string,
    to: string,
    type: string,
    payload: unknown,
    options: { timeoutMs: number; signal: AbortSignal },
  ): Promise<unknown>;
  broadcast(from: string, type: string, payload: unknown): Promise<number>;
  subscribe(agentId: string, topic: string, options: SubscribeOptions): Promise<void>;
  unsubscribe(agentId: string, topic: string): Promise<boolean>;
  /** Stores a checkpoint of the agent's state (ctx.state.save()). */
  checkpoint(agentId: string, snapshot: StateSnapshot): Promise<void>;
  /** The checkpoint to restore when the agent is activated, if any. */
  load(agentId: string): Promise<StateSnapshot | undefined>;
}

/** The port of a runtime's own agents: their actions go through the runtime, their state to `states`. */
export function runtimePort(runtime: AgentRuntime, states: StateStore): AgentPort {
  return {
    send: (from, to, type, payload) => runtime.send(to, type, payload, { from }),
    publish: (from, topic, type, payload) => runtime.publish(topic, type, payload, { from }),
    request: (from, to, type, payload, o) => runtime.request(to, type, payload, { from, ...o }),
    broadcast: (from, type, payload) => runtime.broadcast(type, payload, { from }),
    subscribe: (agentId, topic, o) => runtime.subscribe(agentId, topic, o),
    unsubscribe: (agentId, topic) => runtime.unsubscribe(agentId, topic),
    checkpoint: (agentId, snapshot) => states.put(agentId, snapshot),
    load: (agentId) => states.get(agentId),
  };
}

/** One message handed to an agent. */
export interface Delivery {
  /** Unique per delivery (cancel refers to it). */
  readonly id: string;
  readonly to: string;
  readonly type: string;
  readonly payload: unknown;
  readonly from?: string | undefined;
  readonly topic?: string | undefined;
}
