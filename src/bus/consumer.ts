import { AEAD_TAG_BYTES, openAesGcmInto, verifyEd25519, type RedisCommander } from '../crypto/index.js';
import { COMMIT_EXACTLY_ONCE_LUA } from './commit-exactly-once.lua.js';
import { audit, type BusContext } from './context.js';
import type { DeadLetterReason } from './dead-letter-reason.js';
import type { DeadFrameLetter } from './dead-letters.js';
import type { DeliveryLevel, EnvelopeHeader, MessageKind } from './envelope.js';
import { FORGET_CONSUMER_LUA } from './forget-consumer.lua.js';
import { FrameCountError, frameSignedBytes, readFrameHeader, type FrameFields } from './frame.js';
import { seenTtlMs } from './options.js';
import { RENEW_LEASE_LUA } from './renew-lease.lua.js';
import { runScript } from './scripts.js';
import { SEEN_CHECK_LUA } from './seen-check.lua.js';
import { SEEN_PENDING_LUA } from './seen-pending.lua.js';
import { agentKeyOwner } from './stream-keys.js';

/** A delivered message, decrypted and verified. */
export interface BusMessage {
  readonly id: string;
  readonly kind: MessageKind;
  readonly from: string;
  /** Recipient agent id, topic, or '*' for broadcast. */
  readonly to: string;
  /**
   * The body. It is a view into the frame's buffer (no copy): copy it (`Buffer.from(payload)`) to
   * keep a small part of a large frame alive for long.
   */
  readonly payload: Buffer;
  readonly timestamp: number;
  readonly correlationId: string | null;
  readonly delivery: DeliveryLevel;
  /** 1 on first delivery; more after redeliveries. */
  readonly deliveryCount: number;
  readonly entryId: string;
}

export type MessageHandler = (message: BusMessage) => Promise<void> | void;

/** What a stream consumer reads and how it judges each message. */
export interface ConsumerSpec {
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  /** Overrides the per-message delivery level (per-subscription level). */
  readonly delivery: DeliveryLevel | undefined;
  /** XDEL entries once acked (single-group inbox streams). */
  readonly deleteAfterAck: boolean;
  /**
   * Pipeline the replay check behind each blocking read while traffic is light (inboxes: the
   * request/response path). It costs one small script per read, also for an idle consumer's timed-out
   * reads, so the many broadcast and topic consumers leave it off.
   */
  readonly pipelineReplayCheck?: boolean;
  /** deliver, skip silently (a topic that does not match), or reject as wrong_recipient. */
  accept(env: EnvelopeHeader): 'deliver' | 'skip' | 'wrong_recipient';
  /** Keystore owner of the key this stream's frames are encrypted with. */
  readonly keyOwner: string;
  /**
   * Returns true when the message was a reply taken by a waiting request: it is audited as delivered
   * and not handed to the handler.
   */
  intercept?(message: BusMessage): boolean;
  readonly handler: MessageHandler;
}

const BUF = { typeMapping: { 36: Buffer } };
type RawEntry = [Buffer, Buffer[] | null];
const EMPTY: Buffer = Buffer.alloc(0);
const [CH_H, CH_S, CH_C, CH_T, CH_F] = [...'hsctf'].map((x) => x.charCodeAt(0));
/**
 * Most entries the replay check pipelined behind a read covers; it runs only while the previous read
 * returned at most this many (light traffic), as it copies the entries inside Redis.
 */
const PIPELINED_SEEN_MAX = 8;
/**
 * A consumer reads ahead (writes its next read before the entries just read are handled) only after a
 * read of at most this many messages: light traffic, where it saves a round trip per message. After a
 * bigger read it reads once they are handled, so what arrived meanwhile comes in one read.
 */
const READ_AHEAD_MAX_MESSAGES = 8;

/** Wait before trying Redis again after `failures` failures in a row: 50 ms doubling, at most 2 s. */
const redisBackoffMs = (failures: number): number => Math.min(2000, 50 * 2 ** Math.min(failures, 6));

/** a > b for stream entry ids ('ms-seq'). */
function idAbove(a: string, b: string): boolean {
  if (b === '') return true;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  if (da !== db) return da > db;
  for (let i = 0; i < da; i++)
    if (a.charCodeAt(i) !== b.charCodeAt(i)) return a.charCodeAt(i) > b.charCodeAt(i);
  const sa = a.length - da;
  const sb = b.length - db;
  if (sa !== sb) return sa > sb;
  return a > b;
}

/**
 * How a message's handling ended: handled; dropped (dead-lettered, or at-most-once and audited as
 * dropped); or left — the consumer is stopping or another consumer took the entry over — so its frame
 * is not acked.
 */
type Outcome = 'handled' | 'dropped' | 'left';

/** One stream entry on its way through the receive pipeline. */
interface Received {
  readonly entryId: string;
  readonly deliveryCount: number;
  readonly h: Buffer;
  readonly s: Buffer;
  readonly c: Buffer;
  readonly t: Buffer;
  /** The plain frame id field (hex) the pipelined replay check keyed its mark by; '' if absent. */
  readonly plainFid: string;
  header: FrameFields | undefined;
  fid: string;
  envs: EnvelopeHeader[];
  /** Byte offset of each message's body in `c`. */
  offsets: number[];
  /** Indexes still to deliver, in order. */
  todo: number[];
  letters: DeadFrameLetter[];
  /**
   * The frame's signature verified under its sender's key (security on). Until then — and for good if
   * it does not, or with security off — its sender and message ids are only claims.
   */
  verified: boolean;
  /**
   * Set when the frame could not be judged this time (the keystore failed): it is neither delivered
   * nor acked, and comes back after the visibility timeout, up to maxAttempts.
   */
  held: boolean;
}

/** Reads one stream as one consumer of one group: XREADGROUP, XAUTOCLAIM, verify, decrypt, dispatch, ack. */
export class StreamConsumer {
  private running = false;
  private loopDone: Promise<void> | undefined;
  private readonly acks = new Set<Promise<unknown>>();
  /** The highest entry id this consumer has taken ('' before the first): see seen-pending.lua.ts. */
  private lastId = '';
  /** A read is waiting on the consumer's connection: acks go out on the shared one meanwhile. */
  private reading = false;
  /** Messages in the frames of the read being taken (counted by processBatch as it parses them). */
  private taken = 0;
  /**
   * Entries this consumer has taken and not finished (handled, held or failed), with when it took
   * them: while one is still here after a third of the visibility timeout, its idle time is reset
   * (renew-lease.lua.ts), so a slow handler is not run a second time by another consumer meanwhile.
   */
  private readonly leased = new Map<string, number>();
  private leaseTimer: ReturnType<typeof setInterval> | undefined;
  /** Wakes a handler retry that waits (see pause): stop() does not wait out a backoff. */
  private readonly sleepers = new Set<() => void>();

  constructor(
    private readonly ctx: BusContext,
    private readonly blocking: RedisCommander,
    private readonly spec: ConsumerSpec,
    private readonly audited: boolean,
  ) {}

  start(): void {
    this.running = true;
    // an at-most-once (NOACK) read leaves nothing pending: nothing to hold
    if (this.spec.delivery !== 'at-most-once') {
      const every = Math.max(5, Math.floor(this.ctx.options.visibilityTimeoutMs / 3));
      this.leaseTimer = setInterval(() => this.renewLeases(every), every);
      this.leaseTimer.unref();
    }
    this.loopDone = this.loop();
  }

  /**
   * Stops reading; in-flight handling and acks finish (graceful). With `forget`, the consumer then
   * leaves its group unless it holds entries (not after destroy(), which stands for a crash).
   */
  async stop(forget = true): Promise<void> {
    this.running = false;
    for (const wake of [...this.sleepers]) wake();
    await this.loopDone;
    clearInterval(this.leaseTimer);
    while (this.acks.size > 0) await Promise.allSettled([...this.acks]);
    if (!forget) return;
    // leave no consumer behind in the group unless it still holds entries (forget-consumer.lua.ts)
    const { ctx, spec } = this;
    await runScript(ctx.redis, FORGET_CONSUMER_LUA, [spec.stream], [spec.group, spec.consumer]).catch(
      (error: unknown) =>
        ctx.logger.warn({ err: error, stream: spec.stream }, 'bus could not remove a stopped consumer'),
    );
  }

  /** Resets the idle time of the entries taken at least `age` ms ago and still being handled. */
  private renewLeases(age: number): void {
    const { ctx, spec } = this;
    const cutoff = ctx.now() - age;
    const ids: string[] = [];
    for (const [id, at] of this.leased) if (at <= cutoff) ids.push(id);
    if (ids.length === 0) return;
    runScript(ctx.redis, RENEW_LEASE_LUA, [spec.stream], [spec.group, spec.consumer, '', ...ids]).catch(
      (error: unknown) => ctx.logger.warn({ err: error, stream: spec.stream }, 'bus lease renewal failed'),
    );
  }

  /**
   * One turn writes, in one go on the consumer's own connection: the acks of the frames handled
   * since the last read (while no read is waiting), the blocking XREADGROUP, and — run by Redis the
   * moment the read returns — the replay check of what it returned (security on, inboxes, light
   * traffic) and, once per claim interval, an XAUTOCLAIM page. So a woken consumer has its entries,
   * their replay marks and any reclaimed entries without another round trip.
   *
   * Reads ahead by one under light traffic: as soon as a read of a few messages returns, the next
   * one is written, and it waits in Redis while the entries just read are handled (in order, one batch
   * after the other; after a bigger read, the next is written once it is handled). A message that
   * arrives while a handler runs — a request while the reply to the previous one is still being
   * acknowledged — is then handed over by Redis the moment it is added, not after a round trip to
   * re-issue the read (docs/bus.md, "Request/response latency"). While a read waits on the
   * consumer's connection, acks go out on the shared one.
   */
  private async loop(): Promise<void> {
    const { options, logger, keystore } = this.ctx;
    const { stream, group, consumer } = this.spec;
    const noAck = this.spec.delivery === 'at-most-once';
    let lastClaim = -Infinity;
    let failures = 0;
    let lastCount = 0;
    const args = ['XREADGROUP', 'GROUP', group, consumer, 'COUNT', String(options.readCount)];
    args.push('BLOCK', String(Math.min(options.blockMs, options.claimIntervalMs)));
    if (noAck) args.push('NOACK');
    args.push('STREAMS', stream, '>');
    const seenPrefix = this.ctx.keys.seen(stream, group, '');
    const seenCap = Math.min(options.readCount, PIPELINED_SEEN_MAX);
    /** The batch being handled while the next read waits; batches are handled one after the other. */
    let handling: Promise<void> = Promise.resolve();
    if (!noAck) await this.recover();
    while (this.running) {
      try {
        this.reading = true;
        const read = this.blocking.sendCommand<[Buffer, RawEntry[]][] | null>(args, BUF);
        // the pipelined replay check copies the entries inside Redis: only while traffic is light
        const seen =
          keystore && !noAck && this.spec.pipelineReplayCheck === true && lastCount <= seenCap
            ? runScript<string[]>(
                this.blocking,
                SEEN_PENDING_LUA,
                [stream],
                [
                  group,
                  consumer,
                  this.lastId === '' ? '-' : `(${this.lastId}`,
                  String(seenCap),
                  seenPrefix,
                  String(seenTtlMs(options)),
                ],
              )
            : undefined;
        let claim: Promise<[Buffer, RawEntry[], Buffer[]]> | undefined;
        if (!noAck && this.ctx.now() - lastClaim >= options.claimIntervalMs) {
          lastClaim = this.ctx.now();
          claim = this.blocking.sendCommand(this.claimArgs('0-0'), BUF);
        }
        // the three replies arrive together; none may go unobserved if the read fails
        void seen?.catch(() => undefined);
        void claim?.catch(() => undefined);
        let reply: [Buffer, RawEntry[]][] | null;
        try {
          reply = await read;
        } finally {
          this.reading = false;
        }
        failures = 0;
        let known: Map<string, number> | undefined;
        if (seen) {
          try {
            const flat = await seen;
            known = new Map();
            for (let i = 0; i + 1 < flat.length; i += 2) known.set(String(flat[i]), Number(flat[i + 1]));
          } catch (error) {
            // answered by the regular check instead
            logger.debug({ err: error, stream }, 'bus pipelined replay check failed');
          }
        }
        lastCount = 0;
        if (reply)
          for (const [, entries] of reply) {
            lastCount += entries.length;
            if (!noAck) for (const [id] of entries) this.leased.set(id.toString(), this.ctx.now());
          }
        // the previous batch first (order); its acks were written while this read waited
        await handling;
        if (!this.running) break;
        // the batch's first step (taking its entry ids, see processBatch) runs now, before the next read
        this.taken = 0;
        handling = this.handle(reply ?? [], known, claim).catch((error: unknown) => {
          // the entries stay pending: redelivered after the visibility timeout
          if (this.running) logger.warn({ err: error, stream }, 'bus consumer failed to handle a read');
        });
        // a read that brought many messages: traffic is heavy, and the next read, made once these are
        // handled, takes what arrived meanwhile in one go (reading ahead would take it frame by frame)
        if (this.taken > READ_AHEAD_MAX_MESSAGES) await handling;
      } catch (error) {
        if (!this.running) break;
        failures++;
        lastCount = 0;
        const msg = (error as Error)?.message ?? '';
        if (msg.includes('NOGROUP')) {
          // the group is gone (its stream was deleted, or it was destroyed while this consumer ran):
          // an inbox is read again from its start; a shared stream from now on, so that a group
          // destroyed elsewhere (unregister, unsubscribe) is not handed the whole stream again
          const from = this.spec.deleteAfterAck ? '0' : '$';
          logger.warn({ stream, group, from }, 'bus consumer group is gone; creating it again');
          await this.ctx.redis
            .sendCommand(['XGROUP', 'CREATE', stream, group, from, 'MKSTREAM'])
            .catch(() => undefined);
        } else {
          logger.warn({ err: error, stream }, 'bus consumer read failed; retrying');
        }
        const backoff = redisBackoffMs(failures) * (0.5 + Math.random() / 2);
        await new Promise((r) => setTimeout(r, backoff));
      }
    }
    await handling;
  }

  /**
   * Before its first read of new entries, a consumer finishes what its group had pending when it
   * started, so that nothing new from a sender is handled before that sender's older messages:
   * - its own pending entries (a restart under the same `consumerName`) are taken at once;
   * - those of other consumers are taken over once idle for `visibilityTimeoutMs` (a crashed consumer's
   *   lease is no longer renewed), or left to a live consumer to finish.
   * It reads new entries once no entry up to the newest of them is pending any more. A group with
   * nothing pending (the usual start) costs one XPENDING. An error here is logged and the consumer
   * reads on: the entries are still redelivered by the regular reclaim, possibly out of order.
   */
  private async recover(): Promise<void> {
    const { ctx, spec } = this;
    const { stream, group, consumer } = spec;
    const { options, logger } = ctx;
    try {
      const summary = await this.blocking.sendCommand<[number, string | null, string | null, unknown]>([
        'XPENDING',
        stream,
        group,
      ]);
      const barrier = summary[2];
      if (!Number(summary[0]) || typeof barrier !== 'string') return;
      // its own: taken at once (XCLAIM counts the delivery), oldest first
      for (let from = '-'; this.running;) {
        const own = await this.blocking.sendCommand<[string, string, number, number][]>([
          'XPENDING',
          stream,
          group,
          from,
          barrier,
          String(options.readCount),
          consumer,
        ]);
        if (own.length === 0) break;
        const counts = new Map(own.map((p) => [String(p[0]), Number(p[3]) + 1]));
        const taken = await this.blocking.sendCommand<RawEntry[]>(
          ['XCLAIM', stream, group, consumer, '0', ...counts.keys()],
          BUF,
        );
        await this.processBatch(this.leaseAll(taken, counts));
        from = `(${String((own[own.length - 1] as [string, ...unknown[]])[0])}`;
      }
      let waited = false;
      while (this.running) {
        await this.reclaim(await this.blocking.sendCommand(this.claimArgs('0-0'), BUF));
        const left = await this.blocking.sendCommand<unknown[]>([
          'XPENDING',
          stream,
          group,
          '-',
          barrier,
          '1',
        ]);
        if (left.length === 0) break;
        if (!waited) {
          logger.info(
            { stream, group, upTo: barrier },
            'bus consumer waits for the entries its group had pending before reading new ones (order)',
          );
          waited = true;
        }
        await this.pause(options.claimIntervalMs);
      }
    } catch (error) {
      if (this.running && !String((error as Error)?.message).includes('NOGROUP'))
        logger.warn(
          { err: error, stream },
          'bus consumer could not finish its pending entries first; reading on',
        );
    }
  }

  /** Entries taken over (XCLAIM, XAUTOCLAIM), held from now on like a read's; deleted ones dropped. */
  private leaseAll(
    entries: readonly RawEntry[],
    counts: ReadonlyMap<string, number>,
  ): (readonly [string, Buffer[], number])[] {
    const at = this.ctx.now();
    const out: (readonly [string, Buffer[], number])[] = [];
    for (const [id, fields] of entries) {
      if (!Array.isArray(fields)) continue;
      const eid = id.toString();
      this.leased.set(eid, at);
      out.push([eid, fields, counts.get(eid) ?? 2] as const);
    }
    return out;
  }

  /** Handles the XAUTOCLAIM page pipelined behind a read (if any), then the read's entries. */
  private async handle(
    reply: readonly [Buffer, RawEntry[]][],
    known: ReadonlyMap<string, number> | undefined,
    claim: Promise<[Buffer, RawEntry[], Buffer[]]> | undefined,
  ): Promise<void> {
    // the read's entries are taken (parsed and counted) now, before the next read is written
    const batches = reply.map(([, entries]) =>
      this.take(entries.map(([id, fields]) => [id.toString(), fields ?? [], 1] as const)),
    );
    try {
      // what was taken over is older than what the read brought: handled first (order)
      if (claim)
        await claim
          .then((page) => (this.running ? this.reclaim(page) : undefined))
          .catch((error: unknown) =>
            // what it would have taken is taken over at the next claim
            this.ctx.logger.warn({ err: error, stream: this.spec.stream }, 'bus reclaim failed'),
          );
      for (const batch of batches) await this.settle(batch, known);
    } finally {
      for (const batch of batches) this.release(batch);
    }
  }

  private claimArgs(cursor: string): string[] {
    const { stream, group, consumer } = this.spec;
    const { visibilityTimeoutMs, readCount } = this.ctx.options;
    return [
      'XAUTOCLAIM',
      stream,
      group,
      consumer,
      String(visibilityTimeoutMs),
      cursor,
      'COUNT',
      String(readCount),
    ];
  }

  /**
   * Handles the entries an XAUTOCLAIM page took over (idle longer than the visibility timeout:
   * crashed or stuck consumers), then scans further pages while there are more (up to 10 pages).
   */
  private async reclaim(first: [Buffer, RawEntry[], Buffer[]]): Promise<void> {
    const { stream, group, consumer } = this.spec;
    let page = first;
    for (let round = 0; round < 10 && this.running; round++) {
      const [next, entries] = page;
      const live = entries.filter((e): e is [Buffer, Buffer[]] => Array.isArray(e[1]));
      if (live.length > 0) {
        const firstId = (live[0] as [Buffer, Buffer[]])[0].toString();
        const lastId = (live[live.length - 1] as [Buffer, Buffer[]])[0].toString();
        const pending = await this.ctx.redis.sendCommand<[string, string, number, number][]>([
          'XPENDING',
          stream,
          group,
          firstId,
          lastId,
          String(live.length + 16),
          consumer,
        ]);
        const counts = new Map(pending.map((p) => [String(p[0]), Number(p[3])]));
        await this.processBatch(this.leaseAll(live, counts));
      }
      const cursor = next.toString();
      if (cursor === '0-0' || round === 9 || !this.running) break;
      page = await this.ctx.redis.sendCommand<[Buffer, RawEntry[], Buffer[]]>(this.claimArgs(cursor), BUF);
    }
  }

  /**
   * The receive pipeline for the entries of one read (docs/bus.md): per frame the size checks,
   * the signature and the per-message checks; then one replay-window script and one exactly-once
   * lookup for the whole read; then decryption and dispatch in stream order, and the acks.
   */
  async processBatch(
    entries: readonly (readonly [string, Buffer[], number])[],
    pipelined?: ReadonlyMap<string, number>,
  ): Promise<void> {
    await this.settle(this.take(entries), pipelined);
  }

  /** Step 1 for the entries of a read (no I/O): parsed and counted, their ids taken. */
  private take(entries: readonly (readonly [string, Buffer[], number])[]): Received[] {
    const frames = entries.map(([entryId, fields, count]) => this.parse(entryId, fields, count));
    for (const f of frames) this.taken += f.envs.length;
    for (const [entryId] of entries) if (idAbove(entryId, this.lastId)) this.lastId = entryId;
    return frames;
  }

  /** The rest of the pipeline for taken entries; their lease ends however it ends. */
  private async settle(
    frames: Received[],
    pipelined: ReadonlyMap<string, number> | undefined,
  ): Promise<void> {
    try {
      await this.judgeAndDeliver(frames, pipelined);
    } finally {
      this.release(frames);
    }
  }

  /** Handled, held or failed: a held or failed entry must come back after the visibility timeout. */
  private release(frames: readonly Received[]): void {
    for (const f of frames) this.leased.delete(f.entryId);
  }

  private async judgeAndDeliver(
    frames: Received[],
    pipelined: ReadonlyMap<string, number> | undefined,
  ): Promise<void> {
    const { ctx, spec } = this;

    // replay window (security on): the answers of the check pipelined behind the read, for frames
    // whose signed frame id is the one it keyed; the others get one script for the read, sent
    // before the signatures are checked so its round trip overlaps the verification. Every answer
    // is applied before any delivery.
    const replayed = (f: Received): void => {
      for (const x of f.todo)
        this.reject(f, x, 'replayed', `frame ${f.fid} was already seen in another entry`);
      f.todo = [];
    };
    const live: Received[] = [];
    const early: Received[] = [];
    if (ctx.keystore)
      for (const f of frames) {
        if (f.todo.length === 0) continue;
        const flag = f.plainFid === f.fid ? pipelined?.get(f.entryId) : undefined;
        if (flag === undefined) live.push(f);
        else if (flag === 1) early.push(f);
      }
    const seen =
      live.length > 0
        ? runScript<number[]>(
            ctx.redis,
            SEEN_CHECK_LUA,
            live.map((f) => ctx.keys.seen(spec.stream, spec.group, f.fid)),
            [String(seenTtlMs(ctx.options)), ...live.map((f) => f.entryId)],
          )
        : undefined;
    try {
      for (const f of frames) await this.verify(f);
    } finally {
      // never leave the script's promise unobserved, even if a check throws
      void seen?.catch(() => undefined);
    }
    for (const f of early) replayed(f);
    if (seen) {
      const flags = await seen;
      live.forEach((f, i) => {
        if (Number(flags[i]) === 1) replayed(f);
      });
    }

    // exactly-once: skip messages already marked done (one MGET for the read), before the expiry
    // checks, so that a redelivered frame does not dead-letter a message that was handled
    const done = new Set<string>();
    const exactly: string[] = [];
    for (const f of frames)
      for (const x of f.held ? [] : f.todo)
        if (this.level(f.envs[x] as EnvelopeHeader) === 'exactly-once')
          exactly.push((f.envs[x] as EnvelopeHeader).id);
    if (exactly.length > 0) {
      const marks = await ctx.redis.sendCommand<(string | null)[]>([
        'MGET',
        ...exactly.map((id) => ctx.keys.done(spec.stream, spec.group, id)),
      ]);
      exactly.forEach((id, i) => {
        if (marks[i] !== null && marks[i] !== undefined) done.add(id);
      });
    }

    for (const f of frames) {
      if (f.held) continue;
      this.checkMessages(f, done);
      if (await this.deliver(f, done)) this.ack(f.entryId);
    }
  }

  /**
   * Acks (and for an inbox deletes) one entry as soon as its frame is done, without waiting for the
   * reply: on the consumer's own connection when no read waits on it (node-redis writes the commands
   * of one tick together, so the acks go out in the same write as the next read), else on the shared
   * connection. If they fail there (the connection closed under them: stop()) they are sent once more
   * on the shared connection — acks are idempotent; stop() waits for them.
   */
  private ack(entryId: string): void {
    const { ctx, spec } = this;
    // an at-most-once read (NOACK) left nothing pending; an inbox entry is still deleted
    const noAck = spec.delivery === 'at-most-once';
    if (noAck && !spec.deleteAfterAck) return;
    const send = (c: RedisCommander): Promise<unknown> => {
      const del = spec.deleteAfterAck ? c.sendCommand(['XDEL', spec.stream, entryId]) : undefined;
      if (noAck) return del as Promise<unknown>;
      const p = c.sendCommand(['XACK', spec.stream, spec.group, entryId]);
      return del ? Promise.all([p, del]) : p;
    };
    const tracked = send(this.reading ? ctx.redis : this.blocking)
      .catch(() => send(ctx.redis))
      .catch((error: unknown) =>
        ctx.logger.warn({ err: error, stream: spec.stream }, 'bus ack failed; the entry will be redelivered'),
      );
    this.acks.add(tracked);
    void tracked.finally(() => this.acks.delete(tracked));
  }

  private level(env: EnvelopeHeader): DeliveryLevel {
    return this.spec.delivery ?? env.delivery;
  }

  private reject(f: Received, index: number | undefined, reason: DeadLetterReason, detail: string): void {
    const env = index === undefined ? undefined : f.envs[index];
    f.letters.push({
      reason,
      detail,
      index,
      messageId: env?.id ?? '?',
      from: f.header?.from ?? '?',
      to: env?.to ?? '?',
      kind: env?.kind ?? '?',
      // marks a failed or missing check; with security off nothing is verified at all (docs/bus.md)
      unverified: this.ctx.keystore !== undefined && !f.verified,
    });
  }

  /** Step 1 for one entry, no crypto: parse the frame and check the sizes. */
  private parse(entryId: string, fields: Buffer[], deliveryCount: number): Received {
    const { keystore, options } = this.ctx;
    let h = EMPTY;
    let s = EMPTY;
    let c = EMPTY;
    let t = EMPTY;
    let only: string | undefined;
    let forGroup: string | undefined;
    let plainFid = '';
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i] as Buffer;
      const value = fields[i + 1] as Buffer;
      // field names compared as bytes: no string per field on the hot path
      if (name.length === 1) {
        const ch = name[0];
        if (ch === CH_H) h = value;
        else if (ch === CH_S) s = value;
        else if (ch === CH_C) c = value;
        else if (ch === CH_T) t = value;
        else if (ch === CH_F) plainFid = value.toString('latin1');
      } else if (name.length === 4 && name.toString('latin1') === 'only') only = value.toString('latin1');
      else if (name.length === 5 && name.toString('latin1') === 'group') forGroup = value.toString('latin1');
    }
    const f: Received = {
      entryId,
      deliveryCount,
      h,
      s,
      c,
      t,
      plainFid,
      header: undefined,
      fid: '',
      envs: [],
      offsets: [],
      todo: [],
      letters: [],
      held: false,
      verified: false,
    };
    const all = (reason: DeadLetterReason, detail: string): Received => {
      for (const x of f.todo) this.reject(f, x, reason, detail);
      f.todo = [];
      return f;
    };
    // a dead letter replayed into a shared stream is for the one group it was dead-lettered in: the
    // others ack it unread (dead-letters.ts)
    if (forGroup !== undefined && forGroup !== this.spec.group) return f;
    // no frame the sender's limits allow is larger: refused before it is parsed or hashed
    const bodyLimit = options.maxFrameBytes + options.maxMessageBytes;
    if (c.length > bodyLimit) {
      this.reject(f, undefined, 'too_large', `frame body is ${c.length} bytes; the limit is ${bodyLimit}`);
      return f;
    }
    try {
      const read = readFrameHeader(h, options.maxBatch);
      f.header = read.fields;
      f.envs = read.envs;
      f.fid = read.fields.fid.toString('hex');
    } catch (error) {
      if (error instanceof FrameCountError) this.reject(f, undefined, 'too_large', error.message);
      else this.reject(f, undefined, 'bad_signature', `malformed frame: ${(error as Error).message}`);
      return f;
    }
    let at = 0;
    for (const e of f.envs) {
      f.offsets.push(at);
      at += e.len;
    }
    if (only !== undefined) {
      const i = Number(only);
      if (!/^\d+$/.test(only) || i >= f.envs.length) {
        this.reject(f, undefined, 'bad_signature', `replayed entry names message ${only}, not in the frame`);
        return f;
      }
      f.todo = [i];
    } else f.todo = f.envs.map((_, i) => i);

    // 1. sizes, before any crypto
    if (at !== c.length || t.length !== (keystore ? AEAD_TAG_BYTES : 0))
      return all('bad_signature', `malformed frame: the body is ${c.length} bytes, the headers list ${at}`);
    const limit = options.maxMessageBytes;
    const { spec } = this;
    f.todo = f.todo.filter((x) => {
      const env = f.envs[x] as EnvelopeHeader;
      // a topic this subscription does not match: skipped unread, before any check of its own, so a
      // subscription group leaves no replay mark, no verification and no dead letter for the topics
      // of others (their subscribers judge those); a frame with nothing left is just acked
      if (spec.accept(env) === 'skip') return false;
      const len = env.len;
      if (len <= limit) return true;
      this.reject(f, x, 'too_large', `message is ${len} bytes; the limit is ${limit}`);
      return false;
    });
    return f;
  }

  /** Rejects every message still to do in the frame with one reason. */
  private rejectAll(f: Received, reason: DeadLetterReason, detail: string): void {
    for (const x of f.todo) this.reject(f, x, reason, detail);
    f.todo = [];
  }

  /**
   * The keystore failed while judging the frame (its records could not be read): the frame is held —
   * neither delivered nor acked, so it comes back after the visibility timeout — until its last
   * attempt, when its messages are dead-lettered as unknown_key. Other frames of the read go on.
   */
  private keystoreFailed(f: Received, error: unknown, todo: readonly number[]): void {
    const why = (error as Error)?.message ?? String(error);
    if (f.deliveryCount >= this.ctx.options.maxAttempts) {
      for (const x of todo)
        this.reject(f, x, 'unknown_key', `keystore failed on delivery ${f.deliveryCount}: ${why}`);
      return;
    }
    f.held = true;
    this.ctx.logger.warn(
      { err: error, stream: this.spec.stream, entryId: f.entryId, deliveryCount: f.deliveryCount },
      'bus keystore failed; the frame will be redelivered',
    );
  }

  /** Step 2 for one parsed entry: the frame signature (one per frame). */
  private async verify(f: Received): Promise<void> {
    const { keystore } = this.ctx;
    if (f.todo.length === 0 || !keystore) return;
    const header = f.header as FrameFields;
    if (!header.kid) return this.rejectAll(f, 'bad_signature', 'frame is not signed');
    let key: Awaited<ReturnType<typeof keystore.verificationKey>>;
    try {
      key = await keystore.verificationKey(agentKeyOwner(header.from), header.kid);
    } catch (error) {
      this.keystoreFailed(f, error, f.todo);
      if (!f.held) f.todo = [];
      return;
    }
    if (!key)
      return this.rejectAll(
        f,
        'unknown_key',
        `signing key '${header.kid}' of '${header.from}' is unknown or retired`,
      );
    const signed = frameSignedBytes(f.h, f.c, f.t);
    const { signatures } = this.ctx;
    if (signatures.vouches(f.s, signed)) f.verified = true;
    else if (verifyEd25519(key, signed, f.s)) {
      signatures.remember(f.s, signed);
      f.verified = true;
    } else this.rejectAll(f, 'bad_signature', `frame signature does not verify under '${header.kid}'`);
  }

  /**
   * Step 3 for one verified entry: recipient, expiry and timestamp window of each message not yet
   * done (a message handled before, exactly-once, is skipped by {@link deliver}, not dead-lettered).
   */
  private checkMessages(f: Received, done: ReadonlySet<string>): void {
    if (f.todo.length === 0) return;
    const { ctx, spec } = this;
    const { options } = ctx;
    const now = ctx.now();
    const oldest = now - options.replayWindowMs;
    const newest = now + options.maxClockSkewMs;
    const keep: number[] = [];
    for (const x of f.todo) {
      const env = f.envs[x] as EnvelopeHeader;
      const verdict = spec.accept(env);
      if (verdict === 'skip') continue;
      if (verdict === 'wrong_recipient')
        this.reject(f, x, 'wrong_recipient', `${env.kind} message for '${env.to}' arrived on ${spec.stream}`);
      else if (done.has(env.id)) keep.push(x);
      else if (env.ts + env.ttl < now)
        this.reject(f, x, 'expired', `expired ${now - env.ts - env.ttl} ms ago (ttl ${env.ttl} ms)`);
      else if (env.ts < oldest || env.ts > newest)
        this.reject(f, x, 'replayed', `timestamp ${env.ts} is outside the replay window`);
      else keep.push(x);
    }
    f.todo = keep;
  }

  /** Decrypts the frame and hands its messages to the handler in order; true when it may be acked. */
  private async deliver(f: Received, done: ReadonlySet<string>): Promise<boolean> {
    const { ctx, spec } = this;
    const { options, keystore } = ctx;
    const { deliveryCount, entryId } = f;
    let todo = f.todo.filter((x) => {
      const env = f.envs[x] as EnvelopeHeader;
      return !done.has(env.id) && !(this.level(env) === 'at-most-once' && deliveryCount > 1);
    });
    if (deliveryCount > options.maxAttempts) {
      for (const x of todo)
        this.reject(f, x, 'too_many_attempts', `delivered ${deliveryCount} times without success`);
      todo = [];
    }

    // 5. decryption: one AES-GCM open for the frame
    let plain = f.c;
    if (keystore && todo.length > 0) {
      const header = f.header as FrameFields;
      let key: Awaited<ReturnType<typeof keystore.decryptionKey>>;
      try {
        key = header.ekid ? await keystore.decryptionKey(spec.keyOwner, header.ekid) : undefined;
      } catch (error) {
        this.keystoreFailed(f, error, todo);
        // held: not acked, and its dead letters are written when it is judged (not once per attempt)
        if (f.held) return false;
        todo = [];
      }
      if (todo.length === 0) {
        // dead-lettered above
      } else if (!key || !header.nonce) {
        for (const x of todo)
          this.reject(
            f,
            x,
            'unknown_key',
            `encryption key '${header.ekid}' of '${spec.keyOwner}' is unknown or retired`,
          );
        todo = [];
      } else {
        // its own memory, not a slice of Node's shared pool: a handler that hands `payload.buffer` on
        // (postMessage to a worker, say) hands on this frame's bytes and nothing else
        plain = Buffer.allocUnsafeSlow(f.c.length);
        let opened = false;
        try {
          opened = openAesGcmInto(key, header.nonce, f.h, f.c, f.t, plain);
        } catch {
          // a key of the wrong length: fail closed, like a tag that does not verify
        }
        if (!opened) {
          for (const x of todo) this.reject(f, x, 'decryption_failed', 'AES-GCM authentication failed');
          todo = [];
        }
      }
    }

    // 6. handlers, in order
    let left = false;
    let acked = false;
    const from = f.header?.from ?? '?';
    let lastExactly = -1;
    for (const x of todo) if (this.level(f.envs[x] as EnvelopeHeader) === 'exactly-once') lastExactly = x;
    const lastTodo = todo[todo.length - 1];
    for (const x of todo) {
      const env = f.envs[x] as EnvelopeHeader;
      const start = f.offsets[x] as number;
      const message: BusMessage = {
        id: env.id,
        kind: env.kind,
        from,
        to: env.to,
        payload: plain.subarray(start, start + env.len),
        timestamp: env.ts,
        correlationId: env.corr,
        delivery: this.level(env),
        deliveryCount,
        entryId,
      };
      if (spec.intercept?.(message)) {
        this.delivered(env, from);
        continue;
      }
      let outcome: Outcome = 'handled';
      try {
        const r = spec.handler(message);
        if (r && typeof r.then === 'function') await r;
      } catch (error) {
        outcome = await this.failed(f, x, message, error);
      }
      if (outcome === 'left') {
        // stopping, or the entry is another consumer's now: not acked, the rest of the frame waits
        left = true;
        break;
      }
      if (outcome === 'dropped') continue;
      this.delivered(env, from);
      if (message.delivery === 'exactly-once') {
        const withAck = x === lastExactly && lastTodo === x && f.letters.length === 0;
        await runScript(
          ctx.redis,
          COMMIT_EXACTLY_ONCE_LUA,
          [spec.stream, ctx.keys.done(spec.stream, spec.group, env.id)],
          [
            spec.group,
            entryId,
            String(options.dedupTtlMs),
            withAck ? '1' : '0',
            spec.deleteAfterAck ? '1' : '0',
          ],
        );
        if (withAck) acked = true;
      }
    }
    if (f.letters.length > 0) await this.deadLetter(f);
    return !left && !acked;
  }

  /**
   * After a handler threw on a message: it is run again in place, after handlerRetryMs doubled at each
   * attempt, until it succeeds or has failed maxAttempts times (then the message is dead-lettered
   * too_many_attempts). The consumer takes nothing else meanwhile, so the messages behind it — this
   * sender's next ones among them — keep their order. Each attempt is recorded in the entry's delivery
   * count first (renew-lease.lua.ts), so a crash does not restart the count. An at-most-once message is
   * not run again.
   */
  private async failed(f: Received, x: number, first: BusMessage, thrown: unknown): Promise<Outcome> {
    const { ctx, spec } = this;
    const { options } = ctx;
    let message = first;
    let error = thrown;
    for (;;) {
      const attempt = message.deliveryCount;
      ctx.logger.warn({ err: error, messageId: message.id, deliveryCount: attempt }, 'bus handler failed');
      const why = (error as Error)?.message ?? String(error);
      if (message.delivery === 'at-most-once') {
        audit(ctx, {
          kind: 'message.dropped',
          messageId: message.id,
          from: message.from,
          to: message.to,
          reason: 'handler_failed',
          detail: why,
          at: ctx.now(),
        });
        return 'dropped';
      }
      if (attempt >= options.maxAttempts) {
        this.reject(f, x, 'too_many_attempts', `handler failed on delivery ${attempt}: ${why}`);
        return 'dropped';
      }
      const wait = Math.min(
        options.handlerRetryMaxMs,
        options.handlerRetryMs * 2 ** (attempt - first.deliveryCount),
      );
      if (!(await this.pause(wait))) return 'left';
      if (!(await this.recordAttempt(f, attempt + 1))) return 'left';
      message = { ...message, deliveryCount: attempt + 1 };
      try {
        const r = spec.handler(message);
        if (r && typeof r.then === 'function') await r;
        return 'handled';
      } catch (next) {
        error = next;
      }
    }
  }

  /** Waits `ms` unless the consumer stops meanwhile; true if it is still running. */
  private async pause(ms: number): Promise<boolean> {
    if (!this.running) return false;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
    return this.running;
  }

  /** Records a retry in the entry's delivery count; false if the entry is no longer this consumer's. */
  private async recordAttempt(f: Received, count: number): Promise<boolean> {
    const { ctx, spec } = this;
    for (let failures = 0; ; failures++) {
      try {
        const mine = await runScript<number>(
          ctx.redis,
          RENEW_LEASE_LUA,
          [spec.stream],
          [spec.group, spec.consumer, String(count), f.entryId],
        );
        return Number(mine) === 1;
      } catch (error) {
        // unknown whether the entry is still ours: the handler is not run until that is known
        ctx.logger.warn({ err: error, stream: spec.stream }, 'bus could not record a retry; trying again');
        if (!(await this.pause(redisBackoffMs(failures)))) return false;
      }
    }
  }

  /** The audit event of a message handed over: to its handler, or to a waiting request. */
  private delivered(env: EnvelopeHeader, from: string): void {
    if (!this.audited) return;
    audit(this.ctx, {
      kind: 'message.delivered',
      messageId: env.id,
      from,
      to: env.to,
      messageKind: env.kind,
      at: this.ctx.now(),
    });
  }

  /** Writes the frame's dead letters (before the entry is acked) and their audit events. */
  private async deadLetter(f: Received): Promise<void> {
    const { ctx, spec } = this;
    await ctx.deadLetters.addFromFrame(
      {
        stream: spec.stream,
        group: spec.group,
        entryId: f.entryId,
        h: f.h,
        s: f.s,
        c: f.c,
        t: f.t,
        fid: f.fid,
      },
      f.letters,
    );
    const at = ctx.now();
    for (const d of f.letters)
      audit(ctx, {
        kind: 'message.dropped',
        messageId: d.messageId,
        from: d.from,
        to: d.to,
        reason: d.reason,
        detail: d.detail,
        at,
        ...(d.unverified ? { unverified: true as const } : {}),
      });
    f.letters = [];
  }
}
