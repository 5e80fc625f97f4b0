import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import type { Keystore, RedisCommander } from '../crypto/index.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { randomId } from '../util/ids.js';
import { StreamConsumer, type BusMessage, type ConsumerSpec, type MessageHandler } from './consumer.js';
import { audit, type BusContext } from './context.js';
import type { DeadLetterReason } from './dead-letter-reason.js';
import { DeadLetters, type DeadLetterInput } from './dead-letters.js';
import { DELIVERY_LEVELS, type DeliveryLevel, type EnvelopeHeader, type MessageKind } from './envelope.js';
import { BusRateLimitError, BusRejectedError, BusTimeoutError, BusUsageError } from './errors.js';
import {
  allowAllPolicy,
  checkSendFailClosed,
  noopAuditSink,
  type BusAuditSink,
  type PreSendPolicy,
} from './hooks.js';
import { compileBusOptions, type BusOptions, type BusOptionsInput } from './options.js';
import { Pruner } from './prune.js';
import { RateLimiter } from './rate-limiter.js';
import { RATE_TAKE_LUA } from './rate-take.lua.js';
import { correlationId, newReplyTag, replyTagOf } from './replies.js';
import { runScript } from './scripts.js';
import { SignatureMemo } from './signature-memo.js';
import { FrameWriter, type Lane, type Outgoing } from './sender.js';
import { agentKeyOwner, BROADCAST_KEY_OWNER, streamKeys, TOPICS_KEY_OWNER } from './stream-keys.js';
import { TRIM_SHARED_LUA } from './trim-shared.lua.js';
import { redisClientOptions } from '../util/redis-url.js';

/**
 * The outcome of a send: queued on its stream, or dead-lettered with a reason. A reply to a request
 * waiting on the same bus is `delivered`: handed to the request in this process, not written to Redis.
 */
export type SendResult =
  | { readonly id: string; readonly status: 'queued'; readonly entryId: string }
  | { readonly id: string; readonly status: 'delivered' }
  | {
      readonly id: string;
      readonly status: 'dead_lettered';
      readonly reason: DeadLetterReason;
      readonly detail: string;
    };

export type Payload = Buffer | Uint8Array<ArrayBufferLike> | string;

const AGENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$/;
const agentId = z
  .string()
  .regex(AGENT_ID, 'agent ids are 1-128 letters, digits, _ . - starting with a letter or digit');
const payload = z.union([z.string(), z.instanceof(Uint8Array)], {
  error: 'payload must be a string, Buffer or Uint8Array',
});
const common = {
  from: agentId,
  payload,
  delivery: z.enum(DELIVERY_LEVELS as [DeliveryLevel, ...DeliveryLevel[]]).optional(),
  ttlMs: z.int().min(1).optional(),
};
const sendSchema = z.strictObject({ ...common, to: agentId });
const publishSchema = z.strictObject({
  ...common,
  topic: z.string().regex(TOPIC, 'topics are 1-256 letters, digits, _ . : / -'),
});
const broadcastSchema = z.strictObject(common);
const replySchema = z.strictObject({ from: agentId, payload, ttlMs: common.ttlMs });
const requestSchema = z.strictObject({
  ...common,
  to: agentId,
  timeoutMs: z.int().min(1).max(3_600_000).optional(),
});
/** What names a subscription (its consumer group): see subscriptionGroup. */
const subscriptionName = {
  agentId,
  name: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'name is 1-128 letters, digits, _ . : -')
    .optional(),
  topic: z.string().regex(TOPIC).optional(),
  prefix: z.string().min(1).max(256).optional(),
};
const oneOfTopicOrPrefix = (s: { topic?: string | undefined; prefix?: string | undefined }): boolean =>
  (s.topic === undefined) !== (s.prefix === undefined);
const ONE_OF = { message: 'give exactly one of topic (exact) or prefix', path: ['topic'] };
const subscribeSchema = z
  .strictObject({
    ...subscriptionName,
    delivery: z.enum(DELIVERY_LEVELS as [DeliveryLevel, ...DeliveryLevel[]]).optional(),
    startAt: z.enum(['new', 'all']).optional(),
  })
  .refine(oneOfTopicOrPrefix, ONE_OF);
const unsubscribeSchema = z.strictObject(subscriptionName).refine(oneOfTopicOrPrefix, ONE_OF);

/** The consumer group of a topic subscription: its name, else its agent and topic or prefix. */
function subscriptionGroup(i: z.output<typeof unsubscribeSchema>): string {
  return `sub:${i.name ?? `${i.agentId}:${i.topic ?? `${i.prefix}*`}`}`;
}

const LEVELS = new Set<unknown>(DELIVERY_LEVELS);
const COMMON_KEYS = ['from', 'payload', 'delivery', 'ttlMs'];
const SEND_KEYS = new Set([...COMMON_KEYS, 'to']);
const PUBLISH_KEYS = new Set([...COMMON_KEYS, 'topic']);
const BROADCAST_KEYS = new Set(COMMON_KEYS);
const REQUEST_KEYS = new Set([...COMMON_KEYS, 'to', 'timeoutMs']);
const REPLY_KEYS = new Set(['from', 'payload', 'ttlMs']);

/**
 * The hot-path input check: true only for inputs the zod schema accepts unchanged. Anything else
 * goes through the schema, which either accepts it or throws the ConfigError naming the field.
 */
function quick(i: unknown, keys: ReadonlySet<string>): i is Record<string, unknown> {
  if (typeof i !== 'object' || i === null || Object.getPrototypeOf(i) !== Object.prototype) return false;
  const r = i as Record<string, unknown>;
  for (const k in r) if (!keys.has(k)) return false;
  const { from, payload, delivery, ttlMs } = r;
  return (
    typeof from === 'string' &&
    AGENT_ID.test(from) &&
    (typeof payload === 'string' || payload instanceof Uint8Array) &&
    (delivery === undefined || LEVELS.has(delivery)) &&
    (ttlMs === undefined || (Number.isSafeInteger(ttlMs) && (ttlMs as number) >= 1))
  );
}

function checked<T>(
  schema: z.ZodType<T>,
  raw: unknown,
  keys: ReadonlySet<string>,
  extra: (r: Record<string, unknown>) => boolean,
  subject: string,
): T {
  return quick(raw, keys) && extra(raw) ? (raw as T) : parseOrThrow(schema, raw, subject);
}
const isAgent = (v: unknown): boolean => typeof v === 'string' && AGENT_ID.test(v);

type WithPayload<T> = Omit<T, 'payload'> & { payload: Payload };
export type SendInput = WithPayload<z.input<typeof sendSchema>>;
export type PublishInput = WithPayload<z.input<typeof publishSchema>>;
export type BroadcastInput = WithPayload<z.input<typeof broadcastSchema>>;
export type RequestInput = WithPayload<z.input<typeof requestSchema>>;
export type ReplyInput = WithPayload<z.input<typeof replySchema>>;
export type SubscribeInput = z.input<typeof subscribeSchema> & { handler: MessageHandler };
export type UnsubscribeInput = z.input<typeof unsubscribeSchema>;

/** A running consumer; `close()` stops it gracefully (calling it again waits for the same stop). */
export interface Subscription {
  close(): Promise<void>;
}

export interface CreateBusInput {
  readonly options?: BusOptionsInput;
  /** Required when options.security is 'signed-encrypted' (the default). */
  readonly keystore?: Keystore;
  readonly policy?: PreSendPolicy;
  readonly audit?: BusAuditSink;
  readonly logger?: Logger;
  readonly now?: () => number;
}

/** The message bus on Redis Streams (see docs/bus.md). */
export interface Bus {
  readonly options: BusOptions;
  readonly deadLetters: DeadLetters;
  /** Makes an agent a known recipient and creates its inbox and broadcast groups. */
  register(agentId: string): Promise<void>;
  /**
   * Removes an agent from the recipients (sends to it are dead-lettered unknown_recipient) and
   * destroys its broadcast group, so the broadcast stream no longer keeps entries for it. Its inbox
   * and what is in it stay (a later register finds them). BusUsageError while this bus consumes for it.
   */
  unregister(agentId: string): Promise<void>;
  send(input: SendInput): Promise<SendResult>;
  publish(input: PublishInput): Promise<SendResult>;
  broadcast(input: BroadcastInput): Promise<SendResult>;
  /**
   * Sends a request and waits for the reply from `to` to `from` (`from` must be consuming on this
   * bus). BusTimeoutError after timeoutMs counted from the call, the send included; BusUsageError if
   * the bus closes meanwhile (refused once close() has begun).
   */
  request(input: RequestInput): Promise<BusMessage>;
  /**
   * Answers a request this bus delivered, from `input.from` to the requester. `queued` once written
   * to Redis, on the requesting bus's reply stream; `delivered` when that request waits on this very
   * bus: the reply is handed to it in-process (never written to Redis, its message's `entryId` is
   * ''); `dead_lettered` as any send.
   */
  reply(to: BusMessage, input: ReplyInput): Promise<SendResult>;
  /** Consumes an agent's inbox (direct, requests, replies) and broadcasts. */
  consume(
    agentId: string,
    handler: MessageHandler,
    options?: { delivery?: DeliveryLevel; consumerName?: string },
  ): Promise<Subscription>;
  /** A durable topic subscription (exact topic or prefix), its own consumer group. */
  subscribe(input: SubscribeInput): Promise<Subscription>;
  /**
   * Ends a durable topic subscription for good: stops this bus's consumers of it and destroys its
   * consumer group (what it had not handled is dropped with it; the topics stream no longer keeps
   * entries for it). Names the subscription as subscribe did (agentId with topic or prefix, or
   * name). Resolves true if the group existed. `Subscription.close()` only stops consuming: the
   * group stays and keeps what arrives meanwhile.
   */
  unsubscribe(input: UnsubscribeInput): Promise<boolean>;
  /** Writes pending batches now. */
  flush(): Promise<void>;
  /**
   * Stops consumers gracefully (handlers still running finish, and their sends are written), writes
   * pending batches, rejects waiting requests with BusUsageError, closes connections.
   */
  close(): Promise<void>;
  /**
   * Drops everything at once without acking (what a crash looks like; for tests); waiting requests
   * are rejected with BusUsageError.
   */
  destroy(): void;
}

type Client = ReturnType<typeof createClient>;

/** A running stream consumer, its blocking connection, and its stop (once started, shared). */
interface ConsumerEntry {
  readonly consumer: StreamConsumer;
  readonly client: Client;
  stopped?: Promise<void>;
}

/**
 * A request waiting for its reply. Only a reply from `to` (the agent asked) to `from` (the
 * requester) settles it. `resolve` and `reject` remove the entry and its timer before settling.
 */
interface Waiter {
  readonly from: string;
  readonly to: string;
  readonly timer: NodeJS.Timeout;
  resolve(m: BusMessage): void;
  reject(error: Error): void;
}

const CLOSED_MESSAGE = 'the bus is closed; create a new one with createBus()';

/**
 * A reply stream expires this long after its bus last renewed it (every quarter of it), so one left by
 * a process that died goes away; replies sent to it after that are dead-lettered.
 */
const REPLY_STREAM_TTL_MS = 3_600_000;

/** An agent's reply stream on this bus and its consumer (`entry` once started). */
interface ReplyConsumer {
  readonly key: string;
  ready: Promise<void>;
  entry?: ConsumerEntry;
}

const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/** A message in a lane's batch; settles the send() promise (a class: no closures per message). */
class PendingSend implements Outgoing, EnvelopeHeader {
  readonly ts: number;
  readonly len: number;
  constructor(
    readonly id: string,
    readonly kind: MessageKind,
    readonly to: string,
    ts: number,
    readonly ttl: number,
    readonly delivery: DeliveryLevel,
    readonly corr: string | null,
    readonly payload: Buffer,
    private readonly res: (r: SendResult) => void,
    readonly reject: (error: unknown) => void,
  ) {
    this.ts = ts;
    this.len = payload.length;
  }
  /** The message is its own envelope header (one object per message, not two). */
  get header(): EnvelopeHeader {
    return this;
  }
  resolve(entryId: string): void {
    this.res({ id: this.id, status: 'queued', entryId });
  }
  dropped(reason: DeadLetterReason, detail: string): void {
    this.res({ id: this.id, status: 'dead_lettered', reason, detail });
  }
  delivered(): void {
    this.res({ id: this.id, status: 'delivered' });
  }
}

export async function createBus(input: CreateBusInput = {}): Promise<Bus> {
  const options = compileBusOptions(input.options);
  if (options.security === 'signed-encrypted' && !input.keystore) {
    throw new BusUsageError(
      "security 'signed-encrypted' needs a keystore: pass createBus({ keystore }) or set options.security to 'off'",
    );
  }
  const grace = input.keystore?.options.graceMs;
  if (options.security === 'signed-encrypted' && grace !== undefined && grace < options.maxTtlMs) {
    throw new BusUsageError(
      `the keystore's graceMs (${grace}) is shorter than the bus's maxTtlMs (${options.maxTtlMs}): a message still within its ttl would be refused as unknown_key after a key rotation; raise graceMs or lower maxTtlMs`,
    );
  }
  const logger = input.logger ?? silentLogger;
  const main: Client = createClient(redisClientOptions(options.redisUrl));
  main.on('error', (error: unknown) => logger.warn({ err: error }, 'bus redis connection error'));
  await main.connect();
  const redis = main as unknown as RedisCommander;
  const keys = streamKeys(options.prefix);
  const ctx: BusContext = {
    redis,
    options,
    keys,
    keystore: options.security === 'signed-encrypted' ? input.keystore : undefined,
    policy: input.policy ?? allowAllPolicy,
    audit: input.audit ?? noopAuditSink,
    logger,
    deadLetters: new DeadLetters(redis, keys, options, input.now ?? Date.now),
    now: input.now ?? Date.now,
    signatures: new SignatureMemo(),
  };
  const audited = ctx.audit !== noopAuditSink;
  const writer = new FrameWriter(ctx, audited, (lane, items) => {
    // a reply stream that is gone: the process that asked has closed (or died and its stream expired)
    for (const o of items) {
      const { id, kind, to, corr } = o.header;
      const detail = `no process waits for replies on ${lane.stream} any more (request ${String(corr)}): the requester's bus has closed, or the agent stopped consuming there`;
      void recordDrop({
        reason: 'unknown_recipient',
        detail,
        messageId: id,
        from: lane.from,
        to,
        kind,
        stream: lane.stream,
        group: '',
      }).then(
        () => o.dropped('unknown_recipient', detail),
        (error: unknown) => o.reject(error),
      );
    }
  });
  /** This bus's tag: the replies to its requests come back to it alone (replies.ts). */
  const replyTag = newReplyTag();
  /** Each agent's reply consumer on this bus, started by its first request. */
  const replyConsumers = new Map<string, ReplyConsumer>();
  /**
   * The handlers of each agent's inbox consumptions on this bus, oldest first (late replies go to the
   * first); an agent is here while this bus consumes for it.
   */
  const inboxHandlers = new Map<string, MessageHandler[]>();
  const rateArgs = [String(options.ratePerSecond), String(options.rateBurst)];
  const limiter = new RateLimiter(
    options.ratePerSecond,
    options.rateBurst,
    async (agent, want, give) => {
      const [granted, waitMs] = await runScript<[number, number]>(
        redis,
        RATE_TAKE_LUA,
        [keys.rate(agent)],
        [...rateArgs, String(want), String(give)],
      );
      return { granted, waitMs };
    },
    ctx.now,
    (error) => logger.debug({ err: error }, 'bus rate-limit prefetch failed'),
  );
  const known = new Map<string, { known: boolean; at: number }>();
  const knownPruner = new Pruner(ctx.now);
  const consumers = new Set<ConsumerEntry>();
  /** This bus's consumers of each topic subscription group (for unsubscribe). */
  const subscribed = new Map<string, Set<ConsumerEntry>>();
  /** Waiting requests by correlation id. */
  const pending = new Map<string, Waiter>();
  /**
   * The waiting request that a reply from `from` to `to` with correlation id `corr` may settle: only
   * the agent asked answers it, and only to the requester.
   */
  const waiterFor = (corr: string, from: string, to: string): Waiter | undefined => {
    const w = pending.get(corr);
    return w !== undefined && w.to === from && w.from === to ? w : undefined;
  };
  /**
   * close() has begun: no new consumers or requests. Sends are still accepted until `closed`, so
   * that handlers finishing during close() can reply.
   */
  let closing = false;
  /** No sends any more. */
  let closed = false;

  /**
   * The shared streams are trimmed to what every group still needs, every sharedStreamTrimMs
   * (trim-shared.lua.ts); entries the cap cuts before a group finished them get a dead letter.
   */
  let trimming: Promise<void> | undefined;
  async function trimShared(): Promise<void> {
    for (const stream of [keys.topics, keys.broadcast]) {
      const r = await runScript<(number | string)[]>(
        redis,
        TRIM_SHARED_LUA,
        [stream, `${stream}:cuts`],
        [String(options.sharedStreamMaxLen), String(ctx.now()), String(options.trimmedReportMs)],
      );
      for (let i = 2; i + 2 < r.length; i += 3) {
        const [group, lostFrom, keptFrom] = [String(r[i]), String(r[i + 1]), String(r[i + 2])];
        const detail = `${stream} held more than sharedStreamMaxLen (${options.sharedStreamMaxLen}) entries: the entries below ${keptFrom} that group '${group}' had not finished (it was at ${lostFrom}) were cut`;
        logger.warn(
          { stream, group, lostFrom, keptFrom },
          'bus shared stream cut entries a group had not finished',
        );
        await recordDrop({
          reason: 'trimmed',
          detail,
          messageId: '?',
          from: '?',
          to: group,
          kind: '?',
          stream,
          group,
        });
      }
    }
  }
  const trimTimer = setInterval(() => {
    if (trimming || closed) return;
    trimming = trimShared()
      .catch((error: unknown) => logger.warn({ err: error }, 'bus shared stream trim failed'))
      .finally(() => (trimming = undefined));
  }, options.sharedStreamTrimMs);
  trimTimer.unref();

  /** For calls that start new work: refused once close() has begun. */
  const ensureOpen = (): void => {
    if (closing || closed) throw new BusUsageError(CLOSED_MESSAGE);
  };

  /** Rejects every waiting request (close, destroy). */
  function rejectWaiters(): void {
    for (const [corr, w] of pending) {
      w.reject(
        new BusUsageError(
          `the bus was closed while request ${corr} to '${w.to}' waited for its reply; send it again on an open bus`,
        ),
      );
    }
    pending.clear();
  }

  async function createGroup(stream: string, group: string, start: string): Promise<void> {
    try {
      await redis.sendCommand(['XGROUP', 'CREATE', stream, group, start, 'MKSTREAM']);
    } catch (error) {
      if (!String((error as Error)?.message).includes('BUSYGROUP')) throw error;
    }
  }

  async function isKnown(id: string): Promise<boolean> {
    const hit = known.get(id);
    const t = ctx.now();
    if (hit && t - hit.at < options.registryCacheMs) return hit.known;
    const v = (await redis.sendCommand<number>(['SISMEMBER', keys.agents, id])) === 1;
    // entries past registryCacheMs are never used again
    knownPruner.sweep(known, (e, now) => now - e.at >= options.registryCacheMs);
    known.set(id, { known: v, at: t });
    return v;
  }

  async function startConsumer(spec: ConsumerSpec): Promise<ConsumerEntry> {
    const client: Client = createClient(redisClientOptions(options.redisUrl));
    client.on('error', (error: unknown) => logger.debug({ err: error }, 'bus blocking connection error'));
    await client.connect();
    if (closing || closed) {
      // close() began while this connection opened: it would not stop this consumer
      client.destroy();
      throw new BusUsageError(CLOSED_MESSAGE);
    }
    const consumer = new StreamConsumer(ctx, client, spec, audited);
    const entry: ConsumerEntry = { consumer, client };
    consumers.add(entry);
    consumer.start();
    return entry;
  }

  /** Stops a consumer gracefully; a second call (close() after Subscription.close()) waits for the first. */
  function stopConsumer(entry: ConsumerEntry): Promise<void> {
    if (entry.stopped === undefined) {
      consumers.delete(entry);
      const stopped = entry.consumer.stop();
      entry.client.destroy();
      entry.stopped = stopped;
    }
    return entry.stopped;
  }

  const policed = ctx.policy !== allowAllPolicy;
  /** Sends whose policy/registry checks are still running (close() lets them finish). */
  const checking = new Set<Promise<void>>();
  const inboxes = new Map<string, string>();
  const inboxOf = (agent: string): string => {
    let k = inboxes.get(agent);
    if (k === undefined) {
      k = keys.inbox(agent);
      if (inboxes.size < 100_000) inboxes.set(agent, k);
    }
    return k;
  };

  /**
   * The registry answer if the local copy is fresh enough, else undefined (ask Redis). A copy past
   * half its life is refreshed in the background while it is still used, so a steady stream of sends
   * to a recipient never waits for the registry (no SISMEMBER round trip on the request path), and an
   * answer is never older than registryCacheMs.
   */
  function knownCached(id: string): boolean | undefined {
    const hit = known.get(id);
    if (!hit) return undefined;
    const age = ctx.now() - hit.at;
    if (age >= options.registryCacheMs) return undefined;
    if (age * 2 >= options.registryCacheMs && !refreshing.has(id)) refreshKnown(id);
    return hit.known;
  }

  const refreshing = new Set<string>();
  function refreshKnown(id: string): void {
    refreshing.add(id);
    const at = ctx.now();
    redis
      .sendCommand<number>(['SISMEMBER', keys.agents, id])
      .then((v) => {
        const cur = known.get(id);
        // register/unregister since the question was sent know better
        if (cur && cur.at <= at) known.set(id, { known: v === 1, at });
      })
      .catch((error: unknown) => logger.debug({ err: error, id }, 'bus registry refresh failed'))
      .finally(() => refreshing.delete(id));
  }

  /** Writes a dead letter, then its `message.dropped` audit event. */
  async function recordDrop(d: DeadLetterInput): Promise<void> {
    await ctx.deadLetters.add(d);
    const { messageId, from, to, reason, detail } = d;
    audit(ctx, { kind: 'message.dropped', messageId, from, to, reason, detail, at: ctx.now() });
  }

  /** A send refused before it was sealed: dead-lettered without a frame. */
  function drop(
    id: string,
    kind: MessageKind,
    from: string,
    to: string,
    reason: DeadLetterReason,
    detail: string,
  ): Promise<SendResult> {
    return recordDrop({ reason, detail, messageId: id, from, to, kind, stream: '', group: '' }).then(
      () => ({ id, status: 'dead_lettered', reason, detail }) as const,
    );
  }

  /**
   * The last step of a send that passed its checks: into its lane's batch, or — a reply to a request
   * waiting on this bus — straight to that request (handOver).
   */
  function dispatch(lane: Lane, p: PendingSend): void {
    if (p.kind === 'reply' && handOver(p, lane.from)) return;
    writer.enqueue(lane, p);
  }

  /**
   * A reply whose request waits on this bus is handed to it in this process: its reply stream is
   * read by this bus alone, so writing it to Redis (signed, sealed) only to read it back here would
   * add a Redis round trip and protect nothing. Policy, size and rate limit were checked as for any
   * send, and it is audited as sent and delivered. Returns false (the reply is written as usual)
   * when no such request waits any more: after a timeout it reaches the agent's handler from its
   * stream as a late reply; after the request was rejected because its agent stopped consuming here,
   * it is dead-lettered once that stream is deleted (a closed bus refuses the send before this).
   */
  function handOver(p: PendingSend, from: string): boolean {
    const corr = p.corr;
    if (corr === null || replyTagOf(corr) !== replyTag) return false;
    const w = waiterFor(corr, from, p.to);
    if (w === undefined) return false;
    // memory of its own, as a delivered payload has (not the replier's buffer, not Node's shared pool)
    const payload = Buffer.allocUnsafeSlow(p.len);
    p.payload.copy(payload);
    const message: BusMessage = {
      id: p.id,
      kind: 'reply',
      from,
      to: p.to,
      payload,
      timestamp: p.ts,
      correlationId: corr,
      delivery: p.delivery,
      deliveryCount: 1,
      entryId: '',
    };
    if (audited) {
      const event = { messageId: p.id, from, to: p.to, messageKind: p.kind, at: ctx.now() } as const;
      audit(ctx, { kind: 'message.sent', ...event });
      audit(ctx, { kind: 'message.delivered', ...event });
    }
    w.resolve(message);
    p.delivered();
    return true;
  }

  /**
   * The send path. A rate token first (`taken` once one was waited for; see afterToken). Cheap checks
   * run synchronously; when the policy answers synchronously and the
   * recipient is in the registry cache, the message goes straight into its lane's batch without
   * an await. Otherwise the checks run asynchronously, queued per lane so order is kept.
   */
  function submit(
    kind: MessageKind,
    from: string,
    to: string,
    stream: string,
    keyOwner: string,
    data: Payload,
    delivery: DeliveryLevel,
    ttlMs: number | undefined,
    corr: string | null,
    taken = false,
  ): Promise<SendResult> {
    if (closed) return Promise.reject(new BusUsageError(CLOSED_MESSAGE));
    if (!taken && !limiter.tryTake(from))
      return afterToken(from, () =>
        submit(kind, from, to, stream, keyOwner, data, delivery, ttlMs, corr, true),
      );
    const id = randomUUID();
    const body =
      typeof data === 'string'
        ? Buffer.from(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (body.length > options.maxMessageBytes)
      return drop(
        id,
        kind,
        from,
        to,
        'too_large',
        `payload is ${body.length} bytes; the limit is ${options.maxMessageBytes}`,
      );
    const ttl = Math.min(ttlMs ?? options.defaultTtlMs, options.maxTtlMs);
    const direct = kind === 'direct' || kind === 'request' || kind === 'reply';
    const lane = writer.lane(
      stream,
      from,
      direct ? to : '',
      keyOwner,
      kind === 'reply' && replyTagOf(corr) !== undefined,
    );
    const judged = policed
      ? checkSendFailClosed(ctx.policy, { messageId: id, kind, from, to, size: body.length, delivery })
      : undefined;
    const isSync = judged === undefined || !('then' in judged);
    const cached = direct ? knownCached(to) : true;
    if (lane.checks === undefined && isSync && cached !== undefined) {
      if (judged && !judged.allowed)
        return drop(id, kind, from, to, 'policy_denied', judged.reasons.join('; ') || 'policy denied');
      if (!cached)
        return drop(id, kind, from, to, 'unknown_recipient', `agent '${to}' is not registered on this bus`);
      return new Promise<SendResult>((res, rej) =>
        dispatch(lane, new PendingSend(id, kind, to, ctx.now(), ttl, delivery, corr, body, res, rej)),
      );
    }
    return new Promise<SendResult>((resolve, reject) => {
      const step = (lane.checks ?? Promise.resolve()).then(async () => {
        try {
          const decision = await judged;
          if (decision && !decision.allowed) {
            resolve(
              drop(id, kind, from, to, 'policy_denied', decision.reasons.join('; ') || 'policy denied'),
            );
            return;
          }
          if (direct && !(await isKnown(to))) {
            resolve(
              drop(id, kind, from, to, 'unknown_recipient', `agent '${to}' is not registered on this bus`),
            );
            return;
          }
          if (closed) throw new BusUsageError(CLOSED_MESSAGE);
          dispatch(
            lane,
            new PendingSend(id, kind, to, ctx.now(), ttl, delivery, corr, body, resolve, reject),
          );
        } catch (error) {
          reject(asError(error));
        }
      });
      lane.checks = step;
      checking.add(step);
      void step.then(() => {
        checking.delete(step);
        if (lane.checks === step) lane.checks = undefined;
      });
    });
  }

  /**
   * A send that found no rate token at hand: the shared bucket is asked, and `go` (the rest of the
   * send) runs as soon as the answer grants one, before any later send of the agent can take a token.
   * close() and flush() wait for it until it is written (or dropped), so a check it starts is covered.
   */
  function afterToken(from: string, go: () => Promise<SendResult>): Promise<SendResult> {
    let done!: () => void;
    const waiting = new Promise<void>((r) => (done = r));
    checking.add(waiting);
    void waiting.then(() => checking.delete(waiting));
    return new Promise<SendResult>((resolve, reject) => {
      limiter.wait(from, {
        resolve(wait) {
          if (wait > 0) {
            reject(new BusRateLimitError(from, wait));
            done();
            return;
          }
          let sent: Promise<SendResult>;
          try {
            sent = go();
          } catch (error) {
            sent = Promise.reject(asError(error));
          }
          resolve(sent);
          void sent.then(done, done);
        },
        reject(error) {
          reject(error);
          done();
        },
      });
    });
  }

  let closeDone: Promise<void> | undefined;
  /**
   * close(), in the order that lets work in flight finish: the consumers stop (their handlers
   * finish, and what those send is still accepted), the sends are written, then the bus refuses
   * sends, the waiting requests are rejected and the connection closes.
   */
  async function closeGracefully(): Promise<void> {
    if (closed) return; // destroy() came first
    closing = true;
    while (consumers.size > 0) await Promise.all([...consumers].map((c) => stopConsumer(c)));
    await Promise.all([...replyConsumers.keys()].map((agent) => stopReplies(agent)));
    await Promise.allSettled([...checking]);
    await writer.drain();
    closed = true;
    clearInterval(trimTimer);
    clearInterval(replyTimer);
    await trimming;
    // sends that started while the writer drained: their checks end (refused if not yet queued)
    // and what they queued is written
    await Promise.allSettled([...checking]);
    await writer.drain();
    rejectWaiters();
    await main.close();
  }

  /**
   * An inbox takes direct messages and requests to its agent, and replies to requests that named no
   * bus. A reply to a request that named one belongs on that bus's reply stream: in an inbox it is a
   * copy, refused, so that a reply is only ever delivered from one stream (whose replay window
   * remembers it).
   */
  const inboxAccept =
    (agent: string) =>
    (env: EnvelopeHeader): 'deliver' | 'wrong_recipient' =>
      env.to === agent &&
      (env.kind === 'direct' ||
        env.kind === 'request' ||
        (env.kind === 'reply' && replyTagOf(env.corr) === undefined))
        ? 'deliver'
        : 'wrong_recipient';

  /**
   * Takes a reply for a waiting request: only from the agent asked, to the requester. Any other
   * reply (late, or with a correlation id it has no right to) goes to the handler like any message
   * addressed to this agent.
   */
  const intercept = (m: BusMessage): boolean => {
    if (m.kind !== 'reply' || !m.correlationId) return false;
    const w = waiterFor(m.correlationId, m.from, m.to);
    if (!w) return false;
    w.resolve(m);
    return true;
  };

  /**
   * Starts `agent`'s reply stream on this bus and its consumer: the stream expires unless renewed
   * (a process that dies leaves nothing for long), and a reply to it once it is gone is dead-lettered.
   */
  function startReplies(agent: string): Promise<void> {
    const key = keys.replies(agent, replyTag);
    const state: ReplyConsumer = { key, ready: Promise.resolve() };
    state.ready = (async () => {
      await stoppingReplies.get(agent); // the same key: its deletion must come first
      await createGroup(key, 'inbox', '0');
      await redis.sendCommand(['PEXPIRE', key, String(REPLY_STREAM_TTL_MS)]);
      const entry = await startConsumer({
        stream: key,
        group: 'inbox',
        consumer: replyTag,
        delivery: undefined,
        deleteAfterAck: true,
        pipelineReplayCheck: true,
        accept: (env) =>
          env.kind === 'reply' && env.to === agent && replyTagOf(env.corr) === replyTag
            ? 'deliver'
            : 'wrong_recipient',
        keyOwner: agentKeyOwner(agent),
        intercept,
        handler: (m) => {
          // a late reply: to the agent's handler, as if it had come to the inbox
          const h = inboxHandlers.get(agent)?.[0];
          if (h === undefined) throw new BusUsageError(`'${agent}' no longer consumes on this bus`);
          return h(m);
        },
      });
      if (replyConsumers.get(agent) !== state) {
        await stopConsumer(entry); // stopped while it started
        throw new BusUsageError(`'${agent}' stopped consuming its inbox on this bus`);
      }
      state.entry = entry;
    })();
    state.ready.catch((error: unknown) => {
      if (replyConsumers.get(agent) === state) replyConsumers.delete(agent);
      logger.debug({ err: error, agent }, 'bus reply consumer did not start');
    });
    replyConsumers.set(agent, state);
    return state.ready;
  }

  /** Reply consumers being stopped (a new one for the agent starts once its stream is deleted). */
  const stoppingReplies = new Map<string, Promise<void>>();

  /** Stops `agent`'s reply consumer on this bus and deletes its stream (left to expire if that fails). */
  async function stopReplies(agent: string): Promise<void> {
    const state = replyConsumers.get(agent);
    if (state === undefined) return;
    replyConsumers.delete(agent);
    const stop = (async () => {
      await state.ready.catch(() => undefined);
      if (state.entry) await stopConsumer(state.entry);
      try {
        await redis.sendCommand(['DEL', state.key]);
      } catch (error) {
        logger.warn({ err: error, key: state.key }, 'bus reply stream not deleted; it expires on its own');
      }
    })();
    stoppingReplies.set(agent, stop);
    try {
      await stop;
    } finally {
      if (stoppingReplies.get(agent) === stop) stoppingReplies.delete(agent);
    }
  }

  const replyTimer = setInterval(() => {
    for (const { key, entry } of replyConsumers.values())
      if (entry)
        redis
          .sendCommand(['PEXPIRE', key, String(REPLY_STREAM_TTL_MS)])
          .catch((error: unknown) => logger.warn({ err: error, key }, 'bus reply stream renewal failed'));
  }, REPLY_STREAM_TTL_MS / 4);
  replyTimer.unref();

  const bus: Bus = {
    options,
    deadLetters: ctx.deadLetters,
    async register(id) {
      if (closed) throw new BusUsageError(CLOSED_MESSAGE);
      parseOrThrow(agentId, id, 'agent id');
      await createGroup(keys.inbox(id), 'inbox', '0');
      await createGroup(keys.broadcast, `agent:${id}`, '$');
      await redis.sendCommand(['SADD', keys.agents, id]);
      known.set(id, { known: true, at: ctx.now() });
    },
    async unregister(id) {
      if (closed) throw new BusUsageError(CLOSED_MESSAGE);
      parseOrThrow(agentId, id, 'agent id');
      if (inboxHandlers.has(id))
        throw new BusUsageError(
          `this bus is consuming for '${id}': close that subscription before unregistering it`,
        );
      await redis.sendCommand(['SREM', keys.agents, id]);
      known.delete(id);
      await redis.sendCommand(['XGROUP', 'DESTROY', keys.broadcast, `agent:${id}`]);
    },
    send(raw) {
      let i: z.output<typeof sendSchema>;
      try {
        i = checked(sendSchema, raw, SEND_KEYS, (r) => isAgent(r.to), 'bus.send input');
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return submit(
        'direct',
        i.from,
        i.to,
        inboxOf(i.to),
        '',
        i.payload,
        i.delivery ?? 'at-least-once',
        i.ttlMs,
        null,
      );
    },
    publish(raw) {
      let i: z.output<typeof publishSchema>;
      try {
        i = checked(
          publishSchema,
          raw,
          PUBLISH_KEYS,
          (r) => typeof r.topic === 'string' && TOPIC.test(r.topic),
          'bus.publish input',
        );
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return submit(
        'topic',
        i.from,
        i.topic,
        keys.topics,
        TOPICS_KEY_OWNER,
        i.payload,
        i.delivery ?? 'at-least-once',
        i.ttlMs,
        null,
      );
    },
    broadcast(raw) {
      let i: z.output<typeof broadcastSchema>;
      try {
        i = checked(broadcastSchema, raw, BROADCAST_KEYS, () => true, 'bus.broadcast input');
      } catch (error) {
        return Promise.reject(asError(error));
      }
      return submit(
        'broadcast',
        i.from,
        '*',
        keys.broadcast,
        BROADCAST_KEY_OWNER,
        i.payload,
        i.delivery ?? 'at-least-once',
        i.ttlMs,
        null,
      );
    },
    request(raw) {
      let i: z.output<typeof requestSchema>;
      try {
        i = checked(
          requestSchema,
          raw,
          REQUEST_KEYS,
          (r) =>
            isAgent(r.to) &&
            (r.timeoutMs === undefined ||
              (Number.isSafeInteger(r.timeoutMs) &&
                (r.timeoutMs as number) >= 1 &&
                (r.timeoutMs as number) <= 3_600_000)),
          'bus.request input',
        );
        // the reply could not arrive once close() has begun: its consumers are stopping
        ensureOpen();
        if (!inboxHandlers.has(i.from)) {
          throw new BusUsageError(
            `'${i.from}' must consume its inbox on this bus (bus.consume('${i.from}', ...)) before it can receive replies`,
          );
        }
      } catch (error) {
        return Promise.reject(asError(error));
      }
      const { from, to } = i;
      const timeoutMs = i.timeoutMs ?? 10_000;
      const corr = correlationId(replyTag);
      // One promise, settled once by whichever comes first: the reply, the timeout (which bounds the
      // send too), a failed or dead-lettered send, or close(). Each path removes the waiter and its
      // timer; a send that completes after the request settled finds nothing left to settle.
      return new Promise<BusMessage>((resolve, reject) => {
        const settle = (): boolean => {
          if (pending.get(corr) !== waiter) return false;
          pending.delete(corr);
          clearTimeout(waiter.timer);
          return true;
        };
        const waiter: Waiter = {
          from,
          to,
          timer: setTimeout(() => waiter.reject(new BusTimeoutError(to, corr, timeoutMs)), timeoutMs),
          resolve(m) {
            if (settle()) resolve(m);
          },
          reject(error) {
            if (settle()) reject(error);
          },
        };
        // registered before the send: the reply can arrive before the send's own answer
        pending.set(corr, waiter);
        const send = (): void => {
          if (pending.get(corr) !== waiter) return; // settled while the reply stream started
          if (replyConsumers.get(from)?.entry === undefined) {
            waiter.reject(
              new BusUsageError(
                `'${from}' stopped consuming its inbox on this bus before request ${corr} was sent`,
              ),
            );
            return;
          }
          let sent: Promise<SendResult>;
          try {
            sent = submit(
              'request',
              from,
              to,
              inboxOf(to),
              '',
              i.payload,
              i.delivery ?? 'at-least-once',
              i.ttlMs ?? timeoutMs,
              corr,
            );
          } catch (error) {
            sent = Promise.reject(asError(error));
          }
          sent.then(
            (result) => {
              if (result.status === 'dead_lettered')
                waiter.reject(new BusRejectedError(result.id, result.reason, result.detail));
            },
            (error: unknown) => waiter.reject(asError(error)),
          );
        };
        // the first request of `from` on this bus starts its reply stream; the timeout already runs
        const replies = replyConsumers.get(from);
        if (replies?.entry !== undefined) send();
        else
          (replies?.ready ?? startReplies(from)).then(send, (error: unknown) =>
            waiter.reject(asError(error)),
          );
      });
    },
    reply(to, raw) {
      let i: z.output<typeof replySchema>;
      try {
        i = checked(replySchema, raw, REPLY_KEYS, () => true, 'bus.reply input');
        if (to.kind !== 'request' || !to.correlationId)
          throw new BusUsageError(
            `message ${to.id} is a ${to.kind}, not a request; only requests can be replied to`,
          );
        if (!isAgent(to.from) || !LEVELS.has(to.delivery))
          throw new BusUsageError(
            `message ${to.id} is not a request this bus delivered (sender '${to.from}', delivery '${to.delivery}'); reply to the message your handler received`,
          );
      } catch (error) {
        return Promise.reject(asError(error));
      }
      const tag = replyTagOf(to.correlationId);
      return submit(
        'reply',
        i.from,
        to.from,
        tag === undefined ? inboxOf(to.from) : keys.replies(to.from, tag),
        '',
        i.payload,
        to.delivery,
        i.ttlMs,
        to.correlationId,
      );
    },
    async consume(id, handler, opts = {}) {
      ensureOpen();
      parseOrThrow(agentId, id, 'agent id');
      await bus.register(id);
      const name = opts.consumerName ?? randomId('c');
      const inbox = await startConsumer({
        stream: keys.inbox(id),
        group: 'inbox',
        consumer: name,
        delivery: opts.delivery,
        deleteAfterAck: true,
        pipelineReplayCheck: true,
        accept: inboxAccept(id),
        keyOwner: agentKeyOwner(id),
        intercept,
        handler,
      });
      const bcast = await startConsumer({
        stream: keys.broadcast,
        group: `agent:${id}`,
        consumer: name,
        delivery: opts.delivery,
        deleteAfterAck: false,
        accept: (env) => (env.kind === 'broadcast' ? 'deliver' : 'wrong_recipient'),
        keyOwner: BROADCAST_KEY_OWNER,
        handler,
      });
      inboxHandlers.set(id, [...(inboxHandlers.get(id) ?? []), handler]);
      let stopped: Promise<void> | undefined;
      return {
        close() {
          if (stopped === undefined) {
            const handlers = [...(inboxHandlers.get(id) ?? [])];
            const at = handlers.indexOf(handler);
            if (at >= 0) handlers.splice(at, 1);
            const left = handlers.length;
            if (left > 0) inboxHandlers.set(id, handlers);
            else {
              inboxHandlers.delete(id);
              // its replies can no longer arrive here
              for (const [corr, w] of pending)
                if (w.from === id)
                  w.reject(
                    new BusUsageError(
                      `'${id}' stopped consuming its inbox on this bus while request ${corr} to '${w.to}' waited for its reply`,
                    ),
                  );
            }
            stopped = Promise.all([
              stopConsumer(inbox),
              stopConsumer(bcast),
              left > 0 ? undefined : stopReplies(id),
            ]).then(() => undefined);
          }
          return stopped;
        },
      };
    },
    async subscribe(raw) {
      ensureOpen();
      const { handler, ...rest } = raw;
      const i = parseOrThrow(subscribeSchema, rest, 'bus.subscribe input');
      if (typeof handler !== 'function') throw new BusUsageError('bus.subscribe needs a handler function');
      const match =
        i.topic !== undefined
          ? (t: string) => t === i.topic
          : (t: string) => t.startsWith(i.prefix as string);
      const group = subscriptionGroup(i);
      await createGroup(keys.topics, group, i.startAt === 'all' ? '0' : '$');
      const entry = await startConsumer({
        stream: keys.topics,
        group,
        consumer: randomId('c'),
        delivery: i.delivery,
        deleteAfterAck: false,
        accept: (env) => (env.kind !== 'topic' ? 'wrong_recipient' : match(env.to) ? 'deliver' : 'skip'),
        keyOwner: TOPICS_KEY_OWNER,
        handler,
      });
      let ofGroup = subscribed.get(group);
      if (!ofGroup) subscribed.set(group, (ofGroup = new Set()));
      ofGroup.add(entry);
      return {
        close() {
          ofGroup.delete(entry);
          if (ofGroup.size === 0 && subscribed.get(group) === ofGroup) subscribed.delete(group);
          return stopConsumer(entry);
        },
      };
    },
    async unsubscribe(raw) {
      ensureOpen();
      const group = subscriptionGroup(parseOrThrow(unsubscribeSchema, raw, 'bus.unsubscribe input'));
      const local = subscribed.get(group);
      subscribed.delete(group);
      await Promise.all([...(local ?? [])].map((entry) => stopConsumer(entry)));
      return (await redis.sendCommand<number>(['XGROUP', 'DESTROY', keys.topics, group])) === 1;
    },
    async flush() {
      await Promise.allSettled([...checking]);
      await writer.drain();
    },
    close() {
      closeDone ??= closeGracefully();
      return closeDone;
    },
    destroy() {
      closing = true;
      closed = true;
      clearInterval(trimTimer);
      clearInterval(replyTimer); // the reply streams expire on their own
      for (const c of consumers) {
        c.stopped = c.consumer
          .stop(false)
          .catch((error: unknown) => logger.debug({ err: error }, 'bus consumer stop after destroy failed'));
        c.client.destroy();
      }
      consumers.clear();
      rejectWaiters();
      main.destroy();
    },
  };
  return bus;
}
