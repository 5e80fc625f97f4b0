import type { AgentConfig } from '../config/index.js';
import type { RedisCommander } from '../crypto/index.js';
import {
  AgentUnavailableError,
  parseAgentId,
  type AgentEndpoint,
  type Delivery,
  type StateSnapshot,
} from '../sdk/index.js';
import { GatewayDirectory, directoryKeys } from './directory.js';

/** The agent type of triggers: `trigger/<agent config id>` subscribes to an event-driven agent's topic. */
export const TRIGGER_AGENT_TYPE = 'trigger';
/** Largest event payload a trigger passes on (it becomes the task's ARS_EVENT variable). */
export const MAX_EVENT_BYTES = 32 * 1024;

/** What starts an event-driven agent's workflow again: its config and where it runs. */
export interface TriggerRegistration {
  readonly config: AgentConfig;
  readonly hostId: string;
  readonly controlTaskQueue: string;
}

/** An event handed to an event-driven agent (the payload of its workflow's `event` signal). */
export interface TriggerEvent {
  readonly topic: string;
  readonly type: string;
  readonly payload: unknown;
  readonly from?: string;
  readonly at: number;
}

/**
 * The event-driven agents' triggers in the runtime's directory: a registration per agent, and a
 * topic subscription of `trigger/<id>` so that any publish on the topic reaches the trigger.
 */
export class TriggerRegistry {
  private readonly directory: GatewayDirectory;
  private readonly key: string;

  constructor(
    private readonly redis: RedisCommander,
    prefix: string,
  ) {
    this.directory = new GatewayDirectory(redis, prefix, 'triggers', { cacheMs: 0, heartbeatTtlMs: 1 });
    this.key = `${directoryKeys(prefix).types}:triggers`;
  }

  /** Registers (or refreshes) an agent's trigger; idempotent. */
  async register(registration: TriggerRegistration): Promise<void> {
    const topic = registration.config.trigger?.topic;
    if (!topic) throw new Error(`agent ${registration.config.id} has no trigger topic`);
    await this.redis.sendCommand(['HSET', this.key, registration.config.id, JSON.stringify(registration)]);
    await this.directory.subscribe(topic, `${TRIGGER_AGENT_TYPE}/${registration.config.id}`, true);
  }

  /** Removes an agent's trigger; idempotent. */
  async unregister(configId: string, topic: string): Promise<void> {
    await this.directory.unsubscribe(topic, `${TRIGGER_AGENT_TYPE}/${configId}`);
    await this.redis.sendCommand(['HDEL', this.key, configId]);
  }

  async get(configId: string): Promise<TriggerRegistration | undefined> {
    const raw = await this.redis.sendCommand<string | null>(['HGET', this.key, configId]);
    return raw === null ? undefined : (JSON.parse(raw) as TriggerRegistration);
  }
}

/**
 * The endpoint of the `trigger` agent type: every message it receives is an event for the
 * event-driven agent named by the key; `fire` starts or wakes that agent's workflow
 * (signal-with-start). Accepts any message type.
 */
export class TriggerEndpoint implements AgentEndpoint {
  readonly agentType = TRIGGER_AGENT_TYPE;
  readonly messageTypes = ['*'];

  constructor(
    private readonly registry: TriggerRegistry,
    private readonly fire: (registration: TriggerRegistration, event: TriggerEvent) => Promise<string>,
    private readonly now: () => number = Date.now,
  ) {}

  bind(): void {}

  async deliver(delivery: Delivery): Promise<unknown> {
    const { key } = parseAgentId(delivery.to);
    const registration = await this.registry.get(key);
    if (!registration)
      throw new AgentUnavailableError(delivery.to, `no event-driven agent '${key}' is registered`);
    const size = Buffer.byteLength(JSON.stringify(delivery.payload ?? null));
    if (size > MAX_EVENT_BYTES)
      throw new AgentUnavailableError(
        delivery.to,
        `the event is ${size} bytes; event-driven agents take events of at most ${MAX_EVENT_BYTES} bytes`,
      );
    const workflowId = await this.fire(registration, {
      topic: delivery.topic ?? '',
      type: delivery.type,
      payload: delivery.payload,
      ...(delivery.from ? { from: delivery.from } : {}),
      at: this.now(),
    });
    return { workflowId };
  }

  run(_id: string, agentId: string): Promise<unknown> {
    return Promise.reject(new AgentUnavailableError(agentId, 'triggers do not run tasks'));
  }

  exportState(): Promise<StateSnapshot | undefined> {
    return Promise.resolve(undefined);
  }

  importState(agentId: string): Promise<boolean> {
    return Promise.reject(new AgentUnavailableError(agentId, 'triggers have no state'));
  }

  deactivate(): Promise<StateSnapshot | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
