import { toError } from './serialized-error.js';
import { randomId } from '../util/ids.js';
import { parseAgentId } from './agent-id.js';
import type { PublishResult, RequestOptions, StateSnapshot, SubscribeOptions } from './context.js';
import { isAgentDefinition, type AgentDefinition } from './define-agent.js';
import { LocalEndpoint, type AgentEndpoint } from './endpoint.js';
import {
  AgentDefinitionError,
  AgentUnavailableError,
  CancelledError,
  DuplicateSubscriptionError,
  RequestTimeoutError,
  UnknownAgentTypeError,
  UnknownMessageTypeError,
} from './errors.js';
import { compileRuntimeOptions, type RuntimeOptions, type RuntimeOptionsInput } from './options.js';
import { runtimePort, type AgentPort } from './port.js';
import { fanOut } from './fan-out.js';
import { withRequestBounds } from './request-bounds.js';
import type { AgentRuntime, SendOptions } from './runtime.js';

interface Subscriber {
  readonly receiveOwn: boolean;
}

/**
 * The in-process runtime: routes every message by direct calls to the endpoint of the recipient's
 * type. Agents whose endpoint is a LocalEndpoint run in this process (trusted code only: the `none`
 * tier); agents behind a StdioAgentConnection run in another process or a sandbox, unchanged.
 */
export class InProcessRuntime implements AgentRuntime {
  private readonly endpoints = new Map<string, AgentEndpoint>();
  private readonly topics = new Map<string, Map<string, Subscriber>>();
  /** Agent ids that received a message and were not deactivated: the audience of broadcasts. */
  private readonly known = new Map<string, Set<string>>();
  private readonly prefix = randomId('d', 4);
  private seq = 0;
  private closed = false;
  private readonly port: AgentPort;

  constructor(readonly options: RuntimeOptions) {
    this.port = runtimePort(this, this.options.stateStore);
  }

  register(agent: AgentDefinition | AgentEndpoint): Promise<void> {
    const endpoint = isAgentDefinition(agent) ? new LocalEndpoint(agent) : agent;
    if (this.endpoints.has(endpoint.agentType)) {
      return Promise.reject(
        new AgentDefinitionError(
          endpoint.agentType,
          'an agent type of this name is already registered with the runtime',
        ),
      );
    }
    endpoint.bind({
      port: this.port,
      onHandlerError: (agentId, messageType, error) =>
        this.options.onHandlerError({ agentId, messageType, error }),
    });
    this.endpoints.set(endpoint.agentType, endpoint);
    this.known.set(endpoint.agentType, new Set());
    return Promise.resolve();
  }

  send(to: string, type: string, payload: unknown, options: SendOptions = {}): Promise<void> {
    return this.deliver(to, type, payload, options.from, undefined, false).then(() => undefined);
  }

  request<R = unknown>(
    to: string,
    type: string,
    payload: unknown,
    options: SendOptions & RequestOptions = {},
  ): Promise<R> {
    return withRequestBounds(
      to,
      type,
      options,
      this.options.requestTimeoutMs,
      (signal) => this.deliver(to, type, payload, options.from, undefined, true, signal) as Promise<R>,
    );
  }

  async publish(
    topic: string,
    type: string,
    payload: unknown,
    options: SendOptions = {},
  ): Promise<PublishResult> {
    this.assertOpen(topic);
    const subscribers = this.topics.get(topic);
    if (!subscribers || subscribers.size === 0) return { deliveredTo: [], rejected: [] };
    const targets = [...subscribers]
      .filter(([id, s]) => id !== options.from || s.receiveOwn)
      .map(([id]) => id);
    return fanOut(targets, (id) => this.deliver(id, type, payload, options.from, topic, false));
  }

  async broadcast(type: string, payload: unknown, options: SendOptions = {}): Promise<number> {
    this.assertOpen('broadcast');
    const targets: string[] = [];
    for (const [agentType, endpoint] of this.endpoints) {
      if (!endpoint.messageTypes.includes(type)) continue;
      for (const id of this.known.get(agentType) ?? []) if (id !== options.from) targets.push(id);
    }
    const outcomes = await Promise.allSettled(
      targets.map((id) => this.deliver(id, type, payload, options.from, undefined, false)),
    );
    return outcomes.filter((o) => o.status === 'fulfilled').length;
  }

  subscribe(agentId: string, topic: string, options: SubscribeOptions = {}): Promise<void> {
    try {
      this.assertOpen(agentId);
      const { type } = parseAgentId(agentId);
      if (!this.endpoints.has(type)) throw new UnknownAgentTypeError(type, agentId);
      let subscribers = this.topics.get(topic);
      if (!subscribers) this.topics.set(topic, (subscribers = new Map<string, Subscriber>()));
      if (subscribers.has(agentId)) throw new DuplicateSubscriptionError(agentId, topic);
      subscribers.set(agentId, { receiveOwn: options.receiveOwn ?? false });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  unsubscribe(agentId: string, topic: string): Promise<boolean> {
    const subscribers = this.topics.get(topic);
    const removed = subscribers?.delete(agentId) ?? false;
    if (subscribers?.size === 0) this.topics.delete(topic);
    return Promise.resolve(removed);
  }

  async run<R = unknown>(agentType: string, task: unknown, options: RequestOptions = {}): Promise<R> {
    const agentId = `${agentType}/run-${this.nextId()}`;
    const endpoint = this.endpointOf(agentId);
    const controller = new AbortController();
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs;
    const timer = setTimeout(
      () => controller.abort(new RequestTimeoutError(agentId, 'run', timeoutMs)),
      timeoutMs,
    );
    const onOuter = (): void => controller.abort(new CancelledError(agentId, 'run', 'the caller cancelled'));
    options.signal?.addEventListener('abort', onOuter, { once: true });
    let rejectAbort!: (error: unknown) => void;
    const aborted = new Promise<never>((_, reject) => (rejectAbort = reject));
    controller.signal.addEventListener('abort', () => rejectAbort(controller.signal.reason), { once: true });
    try {
      const result = endpoint.run(this.nextId(), agentId, task, controller.signal);
      result.catch(() => undefined);
      return (await Promise.race([result, aborted])) as R;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onOuter);
      aborted.catch(() => undefined);
    }
  }

  async saveState(agentId: string): Promise<StateSnapshot | undefined> {
    const live = await this.endpointOf(agentId).exportState(agentId);
    return live ?? (await this.options.stateStore.get(agentId));
  }

  async restoreState(agentId: string, snapshot: StateSnapshot): Promise<void> {
    await this.endpointOf(agentId).importState(agentId, snapshot);
    await this.options.stateStore.put(agentId, snapshot);
  }

  async deactivate(agentId: string): Promise<void> {
    const endpoint = this.endpointOf(agentId);
    const snapshot = await endpoint.deactivate(agentId);
    if (snapshot) await this.options.stateStore.put(agentId, snapshot);
    this.known.get(endpoint.agentType)?.delete(agentId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.endpoints.values()].map((endpoint) => endpoint.close()));
  }

  private deliver(
    to: string,
    type: string,
    payload: unknown,
    from: string | undefined,
    topic: string | undefined,
    reply: boolean,
    signal?: AbortSignal,
  ): Promise<unknown> {
    try {
      this.assertOpen(to);
      const endpoint = this.endpointOf(to);
      if (!endpoint.messageTypes.includes(type))
        throw new UnknownMessageTypeError(to, type, endpoint.messageTypes);
      this.known.get(endpoint.agentType)?.add(to);
      return endpoint.deliver({ id: this.nextId(), to, type, payload, from, topic }, { reply, signal });
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  private endpointOf(agentId: string): AgentEndpoint {
    const { type } = parseAgentId(agentId);
    const endpoint = this.endpoints.get(type);
    if (!endpoint) throw new UnknownAgentTypeError(type, agentId);
    return endpoint;
  }

  private assertOpen(subject: string): void {
    if (this.closed) throw new AgentUnavailableError(subject, 'the runtime is closed');
  }

  private nextId(): string {
    return `${this.prefix}-${(this.seq++).toString(36)}`;
  }
}

/** Creates the in-process runtime (no Redis, no serialisation: direct calls). */
export function createInProcessRuntime(options: RuntimeOptionsInput = {}): InProcessRuntime {
  return new InProcessRuntime(compileRuntimeOptions(options));
}
