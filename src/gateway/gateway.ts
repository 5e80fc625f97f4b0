import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import {
  allowAllPolicy,
  checkSendFailClosed,
  noopAuditSink,
  type Bus,
  type BusAuditSink,
  type BusMessage,
  type PreSendPolicy,
  type Subscription,
} from '../bus/index.js';
import type { RedisCommander } from '../crypto/index.js';
import {
  AgentDefinitionError,
  AgentUnavailableError,
  DuplicateSubscriptionError,
  LocalEndpoint,
  UnknownAgentTypeError,
  UnknownMessageTypeError,
  deserializeRuntimeError,
  fanOut,
  withRequestBounds,
  isAgentDefinition,
  parseAgentId,
  runtimePort,
  serializeError,
  type AgentDefinition,
  type AgentEndpoint,
  type AgentPort,
  type AgentProcessExit,
  type AgentRuntime,
  type HandlerErrorListener,
  type PublishResult,
  type RequestOptions,
  type SendOptions,
  type StateSnapshot,
  type SubscribeOptions,
} from '../sdk/index.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { GatewayDirectory, RedisStateStore, rendezvous, type AgentTypeInfo } from './directory.js';
import { GatewayClosedError, MessageDeniedError, MessageNotAuditedError } from './errors.js';
import type { AgentLifecycleKind, AgentLifecycleListener } from './lifecycle.js';
import { compileGatewayOptions, type GatewayOptions, type GatewayOptionsInput } from './options.js';
import {
  gatewayFrameSchema,
  type GatewayAnswerFrame,
  type GatewayFrame,
  type GatewayRequestFrame,
} from './protocol.js';

/** The bus recipient of a gateway's inbox. */
export const gatewayBusId = (gatewayId: string): string => `gw.${gatewayId}`;

/**
 * The bus identity an agent's messages are signed with: a fixed-length digest of the agent id (the
 * bus allows fewer characters than agent ids). The gateway signs with this identity's keys on the
 * agent's behalf; the agent itself never holds a key.
 */
export const agentBusId = (agentId: string): string =>
  `a.${createHash('sha256').update(agentId).digest('base64url').slice(0, 32)}`;

/** A dead agent process (a sandboxed endpoint's process exited while the gateway was open). */
export interface AgentExit {
  readonly gatewayId: string;
  readonly agentType: string;
}

export interface CreateGatewayInput {
  /** The bus (signed + encrypted in production); gateways of one runtime share its prefix. */
  readonly bus: Bus;
  /** Redis for the directory and the state checkpoints. */
  readonly redis: RedisCommander;
  /** Key prefix of the directory; gateways of one runtime share it. */
  readonly prefix: string;
  readonly options?: GatewayOptionsInput;
  /** Pre-send hook at the agent level (the principal is the sender's agent type). @default allow all */
  readonly policy?: PreSendPolicy;
  /** Audit events for messages sent and dropped, with agent ids. @default none */
  readonly audit?: BusAuditSink;
  readonly logger?: Logger;
  /** A handler of a message without reply failed. @default logs a warning */
  readonly onHandlerError?: HandlerErrorListener;
  /**
   * An endpoint's agent process died: a restartable endpoint (OnDemandEndpoint) starts a new one on
   * the next message; any other endpoint's type is withdrawn from this gateway.
   */
  readonly onAgentExit?: (exit: AgentExit) => void;
  /** Hears when instances are activated, hibernated, or lose their process. @default none */
  readonly lifecycle?: AgentLifecycleListener;
  readonly now?: () => number;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly agentId: string;
  readonly messageType: string;
  readonly timer: NodeJS.Timeout;
  /** The gateway serving the call. */
  readonly gateway: string;
}

/** How long close() waits for the answers of the calls it cancelled. */
const CLOSE_ANSWER_WAIT_MS = 2_000;

type Local = { readonly kind: 'local'; readonly endpoint: AgentEndpoint };
type Remote = { readonly kind: 'remote'; readonly gateway: string };

const OPERATOR = 'operator';

/**
 * The agent gateway: the runtime that runs in each host worker. It hosts the agent types registered
 * with it (in-process definitions, or endpoints whose code runs in a sandbox over the stdio
 * protocol) and relays everything they do through Redis Streams — signed and encrypted by the bus
 * with the sending agent's keys, checked by the pre-send policy hook, audited. Any number of
 * gateways on one Redis form one runtime: the directory places each active agent id on one live
 * gateway hosting its type, and a gateway that dies loses its placements. Agents never hold an
 * activity slot or a Redis connection: one bus consumer per gateway serves all of its agents.
 */
export class AgentGateway implements AgentRuntime {
  readonly options: GatewayOptions;
  readonly id: string;
  private readonly directory: GatewayDirectory;
  private readonly states: RedisStateStore;
  private readonly endpoints = new Map<string, AgentEndpoint>();
  private readonly pending = new Map<string, Pending>();
  private readonly inflight = new Map<string, AbortController>();
  /** Agent ids active here, with the time of their last message (for hibernation). */
  private readonly active = new Map<string, number>();
  private readonly claims = new Map<string, Promise<string>>();
  private readonly port: AgentPort;
  private readonly policy: PreSendPolicy;
  private readonly audit: BusAuditSink;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly startedAt: number;
  private subscription: Subscription | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private closed = false;

  private constructor(private readonly input: CreateGatewayInput) {
    this.options = compileGatewayOptions(input.options);
    this.id = this.options.id;
    this.now = input.now ?? Date.now;
    this.startedAt = this.now();
    this.logger = input.logger ?? silentLogger;
    this.policy = input.policy ?? allowAllPolicy;
    this.audit = input.audit ?? noopAuditSink;
    this.directory = new GatewayDirectory(
      input.redis,
      input.prefix,
      this.id,
      { cacheMs: this.options.cacheMs, heartbeatTtlMs: this.options.heartbeatTtlMs },
      this.now,
    );
    this.states = new RedisStateStore(input.redis, input.prefix);
    this.port = runtimePort(this, this.states);
  }

  /** Creates a gateway, starts consuming its inbox and advertises it in the directory. */
  static async create(input: CreateGatewayInput): Promise<AgentGateway> {
    const gateway = new AgentGateway(input);
    await gateway.start();
    return gateway;
  }

  private async start(): Promise<void> {
    this.subscription = await this.input.bus.consume(gatewayBusId(this.id), (m) => this.onMessage(m), {
      delivery: 'at-least-once',
    });
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((error: unknown) =>
        this.logger.warn({ err: error, gateway: this.id }, 'gateway heartbeat failed'),
      );
    }, this.options.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    if (this.options.idleTimeoutMs > 0) {
      const every = Math.max(50, Math.floor(this.options.idleTimeoutMs / 4));
      this.sweepTimer = setInterval(() => void this.hibernateIdle(), every);
      this.sweepTimer.unref();
    }
  }

  /** Agent ids active on this gateway now. */
  get activeAgents(): readonly string[] {
    return [...this.active.keys()];
  }

  /** The live gateways of the runtime and what they advertise. */
  hosts() {
    return this.directory.gateways();
  }

  async register(agent: AgentDefinition | AgentEndpoint): Promise<void> {
    const endpoint = isAgentDefinition(agent) ? new LocalEndpoint(agent) : agent;
    if (this.closed) throw new GatewayClosedError(this.id);
    if (this.endpoints.has(endpoint.agentType))
      throw new AgentDefinitionError(
        endpoint.agentType,
        'an agent type of this name is already registered with this gateway',
      );
    endpoint.bind({
      port: this.port,
      onProcessExit: (exit) => this.onProcessExit(exit),
      onHandlerError: (agentId, messageType, error) => {
        if (this.input.onHandlerError) this.input.onHandlerError({ agentId, messageType, error });
        else
          this.logger.warn(
            { agentId, messageType, err: error },
            'agent handler failed on a message without reply',
          );
      },
    });
    this.endpoints.set(endpoint.agentType, endpoint);
    const exits = (endpoint as { whenExited?: () => Promise<void> }).whenExited;
    if (typeof exits === 'function') void exits.call(endpoint).then(() => this.onEndpointExit(endpoint));
    await this.heartbeat();
  }

  send(to: string, type: string, payload: unknown, options: SendOptions = {}): Promise<void> {
    return this.route(to, type, payload, options.from, undefined, false).then(() => undefined);
  }

  async request<R = unknown>(
    to: string,
    type: string,
    payload: unknown,
    options: SendOptions & RequestOptions = {},
  ): Promise<R> {
    return (await withRequestBounds(to, type, options, this.options.requestTimeoutMs, (signal) =>
      this.route(to, type, payload, options.from, undefined, true, signal),
    )) as R;
  }

  async publish(
    topic: string,
    type: string,
    payload: unknown,
    options: SendOptions = {},
  ): Promise<PublishResult> {
    this.assertOpen();
    await this.checkPolicy('topic', options.from, topic, payload);
    const subscribers = await this.directory.subscribers(topic);
    const targets = subscribers
      .filter((s) => s.agentId !== options.from || s.receiveOwn)
      .map((s) => s.agentId);
    return fanOut(targets, (id) =>
      this.route(id, type, payload, options.from, topic, false, undefined, true),
    );
  }

  async broadcast(type: string, payload: unknown, options: SendOptions = {}): Promise<number> {
    this.assertOpen();
    await this.checkPolicy('broadcast', options.from, '*', payload);
    const targets: string[] = [];
    for (const [agentType, info] of await this.directory.allTypes()) {
      if (!info.messageTypes.includes(type)) continue;
      for (const id of await this.directory.known(agentType)) if (id !== options.from) targets.push(id);
    }
    const outcomes = await Promise.allSettled(
      targets.map((id) => this.route(id, type, payload, options.from, undefined, false, undefined, true)),
    );
    return outcomes.filter((o) => o.status === 'fulfilled').length;
  }

  async subscribe(agentId: string, topic: string, options: SubscribeOptions = {}): Promise<void> {
    this.assertOpen();
    const { type } = parseAgentId(agentId);
    await this.typeInfo(type, agentId);
    if (!(await this.directory.subscribe(topic, agentId, options.receiveOwn ?? false)))
      throw new DuplicateSubscriptionError(agentId, topic);
  }

  unsubscribe(agentId: string, topic: string): Promise<boolean> {
    return this.directory.unsubscribe(topic, agentId);
  }

  async run<R = unknown>(agentType: string, task: unknown, options: RequestOptions = {}): Promise<R> {
    this.assertOpen();
    const agentId = `${agentType}/run-${this.nextId()}`;
    await this.typeInfo(agentType, agentId);
    const local = this.endpoints.get(agentType);
    return (await withRequestBounds(
      agentId,
      'run',
      options,
      this.options.requestTimeoutMs,
      async (signal) => {
        if (local) return local.run(this.nextId(), agentId, task, signal);
        const gateway = rendezvous(agentId, await this.directory.liveGateways(agentType));
        if (gateway === undefined) throw this.unavailable(agentId, agentType);
        return this.call(gateway, { op: 'run', agentId, task }, agentId, 'run', undefined, signal);
      },
    )) as R;
  }

  async saveState(agentId: string): Promise<StateSnapshot | undefined> {
    const { type } = parseAgentId(agentId);
    await this.typeInfo(type, agentId);
    const holder = await this.holder(agentId, type);
    let live: StateSnapshot | undefined;
    if (holder?.kind === 'local') live = await holder.endpoint.exportState(agentId);
    else if (holder)
      live = ((await this.call(holder.gateway, { op: 'export', agentId }, agentId, 'state.export')) ??
        undefined) as StateSnapshot | undefined;
    return live ?? (await this.states.get(agentId));
  }

  async restoreState(agentId: string, snapshot: StateSnapshot): Promise<void> {
    const { type } = parseAgentId(agentId);
    await this.typeInfo(type, agentId);
    const target = (await this.holder(agentId, type)) ?? (await this.owner(agentId, type));
    if (target.kind === 'local') await this.importLocal(target.endpoint, agentId, snapshot);
    else await this.call(target.gateway, { op: 'import', agentId, snapshot }, agentId, 'state.import');
  }

  async deactivate(agentId: string): Promise<void> {
    const { type } = parseAgentId(agentId);
    await this.typeInfo(type, agentId);
    const holder = await this.holder(agentId, type);
    this.directory.forget(agentId);
    if (holder?.kind === 'local') await this.deactivateLocal(holder.endpoint, agentId, 'deactivated');
    else if (holder) await this.call(holder.gateway, { op: 'deactivate', agentId }, agentId, 'deactivate');
  }

  /**
   * Hibernates every agent, withdraws this gateway from the directory, stops its consumer and
   * closes its endpoints. Checkpoints are written first, so nothing an agent saved is lost.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.sweepTimer);
    for (const agentId of [...this.active.keys()]) {
      const endpoint = this.endpoints.get(parseAgentId(agentId).type);
      if (endpoint)
        await this.deactivateLocal(endpoint, agentId, 'its gateway shut down').catch((error: unknown) =>
          this.logger.warn({ err: error, agentId }, 'could not checkpoint an agent while closing'),
        );
    }
    // The agents here are hibernated: their handlers finished, with the calls they made. Calls still
    // waiting on other gateways (made for a requester outside, who gave up or is closing) are
    // cancelled — their handlers see their signal abort — and their answers get a moment to arrive,
    // so that none is sent to this gateway's inbox once it is gone (a dead letter for nobody).
    if (this.pending.size > 0) {
      for (const [rid, p] of this.pending)
        void this.cancel(p.gateway, rid, new AgentUnavailableError(p.agentId, 'the requester is closing'));
      const deadline = Date.now() + CLOSE_ANSWER_WAIT_MS;
      while (this.pending.size > 0 && Date.now() < deadline) await delay(20);
    }
    await this.directory.withdraw(this.endpoints.keys()).catch(() => undefined);
    await this.subscription?.close();
    for (const [rid, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new AgentUnavailableError(p.agentId, 'the runtime is closed'));
      this.pending.delete(rid);
    }
    for (const controller of this.inflight.values())
      controller.abort(new AgentUnavailableError('*', 'the runtime is closed'));
    await Promise.allSettled([...this.endpoints.values()].map((e) => e.close()));
  }

  // --- routing -------------------------------------------------------------------------------

  /**
   * Delivers to one agent wherever it is placed: checks the pre-send policy, the agent type and the
   * message type, then hands the message to the local endpoint or sends it to the holder's gateway.
   */
  private async route(
    to: string,
    type: string,
    payload: unknown,
    from: string | undefined,
    topic: string | undefined,
    reply: boolean,
    signal?: AbortSignal,
    policyChecked = false,
  ): Promise<unknown> {
    this.assertOpen();
    const { type: agentType } = parseAgentId(to);
    if (!policyChecked) await this.checkPolicy(reply ? 'request' : 'direct', from, to, payload);
    const info = await this.typeInfo(agentType, to);
    if (!info.messageTypes.includes(type) && !info.messageTypes.includes('*'))
      throw new UnknownMessageTypeError(to, type, info.messageTypes);
    const target = await this.owner(to, agentType);
    if (target.kind === 'local')
      return this.deliverLocal(target.endpoint, to, type, payload, from, topic, reply, signal);
    return this.forward(target.gateway, to, type, payload, from, topic, reply, signal);
  }

  /** Hands a message to the gateway that holds (or will hold) the agent. */
  private forward(
    gateway: string,
    to: string,
    type: string,
    payload: unknown,
    from: string | undefined,
    topic: string | undefined,
    reply: boolean,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    return this.call(
      gateway,
      { op: 'deliver', to, type, payload, reply, ...(from ? { from } : {}), ...(topic ? { topic } : {}) },
      to,
      type,
      from,
      signal,
      !reply,
    );
  }

  private async deliverLocal(
    endpoint: AgentEndpoint,
    to: string,
    type: string,
    payload: unknown,
    from: string | undefined,
    topic: string | undefined,
    reply: boolean,
    signal: AbortSignal | undefined,
    id = this.nextId(),
  ): Promise<unknown> {
    const holder = await this.claim(to, endpoint.agentType);
    if (holder !== this.id) {
      // Placed elsewhere meanwhile: the holder serves it (one activation per agent id).
      return this.forward(holder, to, type, payload, from, topic, reply, signal);
    }
    const fresh = !this.active.has(to);
    this.active.set(to, this.now());
    if (fresh) this.report('activated', to, endpoint.agentType);
    void this.directory.addKnown(endpoint.agentType, to).catch(() => undefined);
    return endpoint.deliver({ id, to, type, payload, from, topic }, { reply, signal });
  }

  /** This gateway's claim on an agent id (one claim at a time per id, so deliveries keep their order). */
  private claim(agentId: string, agentType: string): Promise<string> {
    if (this.active.has(agentId)) return Promise.resolve(this.id);
    let claim = this.claims.get(agentId);
    if (!claim) {
      claim = this.directory.claim(agentId, agentType).finally(() => this.claims.delete(agentId));
      this.claims.set(agentId, claim);
    }
    return claim;
  }

  /** Where a message to the agent goes now: its holder, or the gateway it will be placed on. */
  private async owner(agentId: string, agentType: string): Promise<Local | Remote> {
    const local = this.endpoints.get(agentType);
    if (local && this.active.has(agentId)) return { kind: 'local', endpoint: local };
    const gateway = await this.directory.ownerOf(agentId, agentType);
    if (gateway === undefined) throw this.unavailable(agentId, agentType);
    if (gateway === this.id && local) return { kind: 'local', endpoint: local };
    return { kind: 'remote', gateway };
  }

  /** The live gateway the agent is active on, if any. */
  private async holder(agentId: string, agentType: string): Promise<Local | Remote | undefined> {
    const local = this.endpoints.get(agentType);
    if (local && this.active.has(agentId)) return { kind: 'local', endpoint: local };
    const placed = await this.directory.placedOn(agentId, agentType);
    if (placed === undefined) return undefined;
    if (placed === this.id && local) return { kind: 'local', endpoint: local };
    return { kind: 'remote', gateway: placed };
  }

  private async typeInfo(agentType: string, agentId: string): Promise<AgentTypeInfo> {
    const local = this.endpoints.get(agentType);
    if (local) return { messageTypes: local.messageTypes };
    const info = await this.directory.typeInfo(agentType);
    if (!info) throw new UnknownAgentTypeError(agentType, agentId);
    return info;
  }

  private unavailable(agentId: string, agentType: string): AgentUnavailableError {
    return new AgentUnavailableError(agentId, `no live gateway hosts agent type '${agentType}'`);
  }

  private async checkPolicy(
    kind: 'direct' | 'request' | 'topic' | 'broadcast',
    from: string | undefined,
    to: string,
    payload: unknown,
  ): Promise<void> {
    if (this.policy === allowAllPolicy && this.audit === noopAuditSink) return;
    const messageId = randomUUID();
    const sender = from ? parseAgentId(from).type : OPERATOR;
    const recipient = kind === 'topic' || kind === 'broadcast' ? to : parseAgentId(to).type;
    const size = Buffer.byteLength(JSON.stringify(payload ?? null));
    const decision = await checkSendFailClosed(this.policy, {
      messageId,
      kind,
      from: sender,
      to: recipient,
      size,
      delivery: 'at-least-once',
    });
    const at = this.now();
    if (!decision.allowed) {
      const detail = decision.reasons.join('; ') || 'policy denied';
      // nothing is sent either way: a denial the trail cannot record is logged, and still a denial
      await Promise.resolve()
        .then(() =>
          this.audit.record({
            kind: 'message.dropped',
            messageId,
            from: from ?? OPERATOR,
            to,
            reason: 'policy_denied',
            detail,
            at,
          }),
        )
        .catch((error: unknown) =>
          this.logger.error({ err: error, messageId, to }, 'gateway could not audit a denied message'),
        );
      throw new MessageDeniedError(from ?? OPERATOR, to, decision.reasons);
    }
    // fail closed: a message the trail cannot record is not sent
    try {
      await this.audit.record({
        kind: 'message.sent',
        messageId,
        from: from ?? OPERATOR,
        to,
        messageKind: kind,
        at,
      });
    } catch (error) {
      throw new MessageNotAuditedError(from ?? OPERATOR, to, error);
    }
  }

  // --- the gateway protocol ------------------------------------------------------------------

  /** Sends a request frame to another gateway and waits for its answer. */
  private call(
    gateway: string,
    body: DistributiveOmit<GatewayRequestFrame, 'rid' | 'replyTo'>,
    agentId: string,
    messageType: string,
    from?: string,
    signal?: AbortSignal,
    acceptOnly = false,
  ): Promise<unknown> {
    const rid = this.nextId();
    const frame = { ...body, rid, replyTo: this.id };
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(rid);
          reject(
            new AgentUnavailableError(
              agentId,
              `gateway '${gateway}' did not answer within ${this.options.requestTimeoutMs} ms`,
            ),
          );
        },
        this.options.requestTimeoutMs + (acceptOnly ? 0 : 1_000),
      );
      timer.unref();
      this.pending.set(rid, { resolve, reject, agentId, messageType, timer, gateway });
      if (signal) {
        const onAbort = (): void => {
          if (!this.pending.has(rid)) return;
          void this.cancel(gateway, rid, signal.reason);
        };
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      this.post(gateway, frame, from).catch((error: unknown) => this.settle(rid, undefined, error));
    });
  }

  /** Asks the gateway serving call `rid` to abort its handler with `reason` (its answer still comes). */
  private cancel(gateway: string, rid: string, reason: unknown): Promise<void> {
    return this.post(gateway, { op: 'cancel', rid, replyTo: this.id, reason: serializeError(reason) }).catch(
      () => undefined,
    );
  }

  /** Writes a frame to a gateway's inbox, signed as `from` (an agent) or as this gateway. */
  private async post(gateway: string, frame: GatewayFrame, from?: string): Promise<void> {
    const result = await this.input.bus.send({
      from: from ? agentBusId(from) : gatewayBusId(this.id),
      to: gatewayBusId(gateway),
      payload: JSON.stringify(frame),
    });
    if (result.status === 'dead_lettered')
      throw new AgentUnavailableError(
        'to' in frame ? frame.to : gateway,
        `the bus dead-lettered the message to gateway '${gateway}' (${result.reason}: ${result.detail})`,
      );
  }

  private settle(rid: string, value: unknown, error?: unknown): void {
    const p = this.pending.get(rid);
    if (!p) return;
    this.pending.delete(rid);
    clearTimeout(p.timer);
    if (error === undefined) p.resolve(value);
    else p.reject(error);
  }

  private onMessage(m: BusMessage): void {
    let frame: GatewayFrame;
    try {
      frame = gatewayFrameSchema.parse(JSON.parse(m.payload.toString('utf8')));
    } catch (error) {
      this.logger.warn({ err: error, from: m.from, messageId: m.id }, 'gateway dropped a malformed frame');
      return;
    }
    const fromGateway = m.from.startsWith('gw.');
    if (frame.op === 'accepted' || frame.op === 'ok' || frame.op === 'fail') {
      if (fromGateway) this.answer(frame);
      return;
    }
    if (frame.op === 'cancel') {
      if (m.from === gatewayBusId(frame.replyTo))
        this.inflight
          .get(`${frame.replyTo}|${frame.rid}`)
          ?.abort(deserializeRuntimeError(frame.reason, { agentId: '', messageType: '' }));
      return;
    }
    const signer =
      frame.op === 'deliver' && frame.from ? agentBusId(frame.from) : gatewayBusId(frame.replyTo);
    if (m.from !== signer && !(frame.op === 'deliver' && fromGateway)) {
      this.logger.warn(
        { from: m.from, op: frame.op },
        'gateway dropped a frame whose signer is not its sender',
      );
      return;
    }
    void this.serve(frame);
  }

  private answer(frame: GatewayAnswerFrame): void {
    const p = this.pending.get(frame.rid);
    if (!p) return; // a late answer after a timeout or cancel
    if (frame.op === 'fail')
      this.settle(
        frame.rid,
        undefined,
        deserializeRuntimeError(frame.error, { agentId: p.agentId, messageType: p.messageType }),
      );
    else this.settle(frame.rid, frame.op === 'ok' ? frame.value : undefined);
  }

  /** Serves a request of another gateway and answers it. */
  private async serve(frame: GatewayRequestFrame): Promise<void> {
    const key = `${frame.replyTo}|${frame.rid}`;
    const controller = new AbortController();
    this.inflight.set(key, controller);
    let answer: GatewayAnswerFrame;
    try {
      const agentId = frame.op === 'deliver' ? frame.to : frame.agentId;
      const agentType = parseAgentId(agentId).type;
      const endpoint = this.endpoints.get(agentType);
      if (!endpoint) throw new UnknownAgentTypeError(agentType, agentId);
      let value: unknown;
      switch (frame.op) {
        case 'deliver':
          value = await this.deliverLocal(
            endpoint,
            frame.to,
            frame.type,
            frame.payload,
            frame.from,
            frame.topic,
            frame.reply,
            controller.signal,
            `${frame.replyTo}-${frame.rid}`,
          );
          answer = frame.reply ? { op: 'ok', rid: frame.rid, value } : { op: 'accepted', rid: frame.rid };
          break;
        case 'run':
          value = await endpoint.run(
            `${frame.replyTo}-${frame.rid}`,
            frame.agentId,
            frame.task,
            controller.signal,
          );
          answer = { op: 'ok', rid: frame.rid, value };
          break;
        case 'export':
          answer = { op: 'ok', rid: frame.rid, value: (await endpoint.exportState(frame.agentId)) ?? null };
          break;
        case 'import':
          await this.importLocal(endpoint, frame.agentId, frame.snapshot as StateSnapshot);
          answer = { op: 'ok', rid: frame.rid, value: null };
          break;
        case 'deactivate':
          await this.deactivateLocal(endpoint, frame.agentId, 'deactivated');
          answer = { op: 'ok', rid: frame.rid, value: null };
          break;
      }
    } catch (error) {
      answer = { op: 'fail', rid: frame.rid, error: serializeError(error) };
    } finally {
      this.inflight.delete(key);
    }
    await this.post(frame.replyTo, answer).catch((error: unknown) =>
      this.logger.warn({ err: error, to: frame.replyTo }, 'gateway could not answer a request'),
    );
  }

  private async importLocal(
    endpoint: AgentEndpoint,
    agentId: string,
    snapshot: StateSnapshot,
  ): Promise<void> {
    await endpoint.importState(agentId, snapshot); // validates; rejects with InvalidStateError
    await this.states.put(agentId, snapshot);
  }

  private async deactivateLocal(endpoint: AgentEndpoint, agentId: string, reason: string): Promise<void> {
    const snapshot = await endpoint.deactivate(agentId);
    if (snapshot) await this.states.put(agentId, snapshot);
    const wasActive = this.active.delete(agentId);
    await this.directory.removeKnown(endpoint.agentType, agentId);
    await this.directory.release(agentId);
    if (wasActive) this.report('hibernated', agentId, endpoint.agentType, reason);
  }

  /** Hibernates the agents idle for longer than idleTimeoutMs (state checkpointed first). */
  private async hibernateIdle(): Promise<void> {
    const cutoff = this.now() - this.options.idleTimeoutMs;
    for (const [agentId, last] of this.active) {
      if (last > cutoff || this.closed) continue;
      const endpoint = this.endpoints.get(parseAgentId(agentId).type);
      if (!endpoint) continue;
      try {
        await this.deactivateLocal(endpoint, agentId, `idle for ${this.options.idleTimeoutMs} ms`);
        this.logger.debug({ agentId, gateway: this.id }, 'agent hibernated after its idle timeout');
      } catch (error) {
        this.logger.warn({ err: error, agentId }, 'could not hibernate an idle agent');
      }
    }
  }

  /** A restartable endpoint lost its process: its instances are gone (their next message restarts them). */
  private onProcessExit(exit: AgentProcessExit): void {
    if (this.closed) return;
    this.logger.error(
      { gateway: this.id, agentType: exit.agentType, agents: exit.agentIds.length, reason: exit.reason },
      'agent process exited; its instances fall back to their checkpoints',
    );
    for (const agentId of exit.agentIds) {
      // Still placed here: the next message re-activates the instance here, from its checkpoint.
      if (this.active.delete(agentId)) this.report('exited', agentId, exit.agentType, exit.reason);
    }
    this.input.onAgentExit?.({ gatewayId: this.id, agentType: exit.agentType });
  }

  private onEndpointExit(endpoint: AgentEndpoint): void {
    if (this.closed || this.endpoints.get(endpoint.agentType) !== endpoint) return;
    this.endpoints.delete(endpoint.agentType);
    const reason =
      (endpoint as { exitError?: Error | undefined }).exitError?.message ?? 'the agent process exited';
    for (const agentId of [...this.active.keys()])
      if (parseAgentId(agentId).type === endpoint.agentType) {
        this.active.delete(agentId);
        this.report('exited', agentId, endpoint.agentType, reason);
        void this.directory.release(agentId).catch(() => undefined);
      }
    void this.directory.withdraw([endpoint.agentType]).then(
      () => this.heartbeat(),
      () => undefined,
    );
    this.logger.error(
      { gateway: this.id, agentType: endpoint.agentType },
      'agent process exited; its type is withdrawn from this gateway',
    );
    this.input.onAgentExit?.({ gatewayId: this.id, agentType: endpoint.agentType });
  }

  private report(kind: AgentLifecycleKind, agentId: string, agentType: string, reason?: string): void {
    const listener = this.input.lifecycle;
    if (!listener) return;
    try {
      listener.report({
        kind,
        agentId,
        agentType,
        gatewayId: this.id,
        at: this.now(),
        ...(reason === undefined ? {} : { reason }),
      });
    } catch (error) {
      this.logger.warn({ err: error, agentId, kind }, 'the lifecycle listener failed');
    }
  }

  private heartbeat(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const types = new Map<string, AgentTypeInfo>();
    for (const [type, endpoint] of this.endpoints) types.set(type, { messageTypes: endpoint.messageTypes });
    return this.directory.heartbeat(
      {
        id: this.id,
        host: hostname(),
        pid: process.pid,
        types: [...types.keys()],
        capacity: this.options.capacity,
        active: this.active.size,
        startedAt: this.startedAt,
      },
      types,
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new AgentUnavailableError(this.id, 'the runtime is closed');
  }

  private nextId(): string {
    return `${this.id}-${(this.seq++).toString(36)}`;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** Creates a gateway (see AgentGateway). */
export function createGateway(input: CreateGatewayInput): Promise<AgentGateway> {
  return AgentGateway.create(input);
}
