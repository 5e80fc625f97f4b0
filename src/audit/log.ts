import type { KeyObject } from 'node:crypto';
import type { createClient } from 'redis';
import type { Logger } from '../util/logger.js';
import { APPEND_SCRIPT } from './append.lua.js';
import { decodeCheckpoint, sealCheckpoint, type AuditCheckpoint } from './checkpoint.js';
import { canonicalize } from './canonical.js';
import { decodeEntry, GENESIS_HASH, sealPrepared, type AuditEntry, type SealedEntry } from './entry.js';
import { AuditConflictError, AuditIntegrityError } from './errors.js';
import { compileAuditEvent, type AuditEvent, type AuditEventInput, type AuditEventKind } from './events.js';
import { publicKeyFromRaw, type AuditSigner } from './keys.js';
import {
  auditKeys,
  compileAuditLogOptions,
  type AuditLogOptions,
  type AuditLogOptionsInput,
} from './options.js';
import { checkCheckpoints, type VerifyResult } from './verify.js';
import { defaultVerifyWorkers, verifyStream } from './verify-parallel.js';

/** The node-redis client the log writes through. */
export type AuditRedis = ReturnType<typeof createClient>;

interface Pending {
  readonly event: AuditEvent;
  /** Canonical encoding of event.data, computed once at append. */
  readonly data: string;
  readonly resolve: (entry: AuditEntry) => void;
  readonly reject: (error: unknown) => void;
}

export interface AuditQuery {
  readonly agentId?: string;
  readonly kind?: AuditEventKind;
  /** Inclusive time range, ms since the epoch. */
  readonly since?: number;
  readonly until?: number;
  /** Most entries returned (the oldest first). @default 1000 */
  readonly limit?: number;
}

export interface VerifyOptions {
  readonly from?: number;
  /** Last seq to check; when absent, the whole log up to its end, plus truncation checks. */
  readonly to?: number;
  /** Keys to trust (key id → public key). When absent, the log's own key registry in Redis is used. */
  readonly trustedKeys?: ReadonlyMap<string, KeyObject>;
  /** Checkpoints kept outside Redis (they survive a rollback of Redis itself). */
  readonly checkpoints?: readonly AuditCheckpoint[];
  /**
   * Worker threads checking the Ed25519 signatures while this thread checks the chain; 0 checks
   * everything in this thread. @default one per core (at most 4) when verifying 4096 entries or more, else 0
   */
  readonly workers?: number;
}

const CHUNK = 1000;
/** Below this many entries, verify does not start worker threads (their start-up costs more). */
const PARALLEL_VERIFY_MIN = 4096;

type Reply = [number, number, string];
/** A batch on its way: sealed on the expected head and sent, its reply not yet read. */
interface Flight {
  readonly pending: Pending[];
  readonly attempt: number;
  readonly entries: AuditEntry[];
  readonly reply: Promise<Reply>;
}

const nextMacrotask = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * The append-only, hash-chained, Ed25519-signed audit log in Redis. Appends are group-committed: the
 * events waiting when a commit starts are sealed (hashed, chained, signed) on the last known head
 * and written by one compare-and-set script call; if another writer moved the head first, the batch
 * is re-sealed on the new head and retried. So any number of writers, in any number of processes,
 * extend one chain without forks or gaps.
 */
export class AuditLog {
  readonly options: AuditLogOptions;
  private readonly keys: ReturnType<typeof auditKeys>;
  private readonly log: Logger;
  private queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private head: { seq: number; hash: string } | undefined;
  private keyRegistered = false;

  constructor(
    private readonly redis: AuditRedis,
    readonly signer: AuditSigner,
    input: AuditLogOptionsInput = {},
  ) {
    this.options = compileAuditLogOptions(input);
    this.keys = auditKeys(this.options.keyPrefix);
    this.log = this.options.logger.child({ component: 'audit' });
  }

  /** Appends one event; resolves with the sealed entry once it is durable in Redis. Bad input throws AuditEventError. */
  append(input: AuditEventInput): Promise<AuditEntry> {
    const event = compileAuditEvent(input, this.options.now());
    const data = canonicalize(event.data);
    return new Promise<AuditEntry>((resolve, reject) => {
      this.queue.push({ event, data, resolve, reject });
      this.kick();
    });
  }

  /** Appends several events (validated all first: one bad event writes none). */
  appendMany(inputs: readonly AuditEventInput[]): Promise<AuditEntry[]> {
    const now = this.options.now();
    const events = inputs.map((i) => compileAuditEvent(i, now));
    const datas = events.map((e) => canonicalize(e.data));
    const promises = events.map(
      (event, i) =>
        new Promise<AuditEntry>((resolve, reject) => {
          this.queue.push({ event, data: datas[i] as string, resolve, reject });
        }),
    );
    this.kick();
    return Promise.all(promises);
  }

  /** Resolves when every append made so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining.catch(() => undefined);
  }

  /** Starts the commit loop unless it runs; restarts it if events arrived while it was finishing. */
  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.kick();
    });
  }

  /**
   * The commit loop. Batches are pipelined: while batch k is in flight, batch k+1 is sealed on the head
   * batch k will leave and sent on the same connection (Redis runs them in order), so sealing (hash +
   * sign) overlaps the script running in Redis. If a batch loses the compare-and-set, every batch after
   * it was chained on it and loses too: the loop reads all their replies, then re-seals them in order on
   * the head Redis reported.
   */
  private async drain(): Promise<void> {
    await Promise.resolve(); // let synchronous callers enqueue more first
    let tip: { seq: number; hash: string };
    try {
      await this.registerKey();
      tip = this.head ?? (await this.readHead());
    } catch (error) {
      this.failAll(this.queue.splice(0), error);
      return;
    }
    const flights: Flight[] = [];
    const retries: { pending: Pending[]; attempt: number }[] = [];
    let resync = false; // a batch lost: wait for the ones in flight before sealing again
    for (;;) {
      while (!resync && flights.length < this.options.pipelineDepth) {
        const next =
          retries.shift() ??
          (this.queue.length > 0
            ? { pending: this.queue.splice(0, this.options.maxBatch), attempt: 1 }
            : undefined);
        if (!next) break;
        if (next.attempt > this.options.maxRetries) {
          this.failAll(next.pending, new AuditConflictError(this.options.maxRetries));
          continue;
        }
        if (next.attempt > 2)
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 ** next.attempt)));
        const flight = this.send(next.pending, next.attempt, tip);
        flights.push(flight);
        const last = flight.entries[flight.entries.length - 1] as AuditEntry;
        tip = { seq: last.seq, hash: last.hash };
        await nextMacrotask(); // let the command go out (and appenders enqueue) before sealing more
      }
      const flight = flights.shift();
      if (!flight) break;
      let reply: Reply;
      try {
        reply = await flight.reply;
      } catch (error) {
        this.failAll(flight.pending, error);
        resync = true;
        continue;
      }
      const [status, a, b] = reply;
      if (status === 1) {
        const before = this.head?.seq ?? Number(a) - flight.entries.length;
        this.head = { seq: Number(a), hash: String(b) };
        flight.pending.forEach((p, i) => p.resolve(flight.entries[i] as AuditEntry));
        try {
          await this.maybeCheckpoint(before, this.head.seq);
        } catch (error) {
          this.log.error({ err: error }, 'AUDIT CHECKPOINT FAILED');
        }
      } else if (status === -1) {
        this.failAll(flight.pending, new AuditIntegrityError(Number(a), Number(b)));
        resync = true;
      } else {
        this.head = { seq: Number(a), hash: String(b) };
        retries.push({ pending: flight.pending, attempt: flight.attempt + 1 });
        resync = true;
      }
      if (resync && flights.length === 0) {
        resync = false;
        try {
          tip = this.head ?? (await this.readHead());
        } catch (error) {
          for (const r of retries.splice(0)) this.failAll(r.pending, error);
        }
      }
    }
  }

  private failAll(pending: readonly Pending[], error: unknown): void {
    if (pending.length === 0) return;
    this.log.error({ err: error, events: pending.length }, 'AUDIT APPEND FAILED');
    for (const p of pending) p.reject(error);
  }

  /** Seals the batch on `head` (hash, chain, sign) and sends the compare-and-set script. */
  private send(pending: Pending[], attempt: number, head: { seq: number; hash: string }): Flight {
    const sealed: SealedEntry[] = [];
    let prev = head.seq === 0 ? GENESIS_HASH : head.hash;
    for (const [i, p] of pending.entries()) {
      const s = sealPrepared(p.event, p.data, head.seq + i + 1, prev, this.signer);
      sealed.push(s);
      prev = s.entry.hash;
    }
    const keys = [this.keys.entries, this.keys.head, this.keys.time];
    const args = [String(head.seq), head.seq === 0 ? '' : head.hash, String(sealed.length)];
    for (const { entry: e } of sealed) keys.push(this.keys.kind(e.kind));
    for (const { entry: e } of sealed)
      keys.push(e.agentId === null ? this.keys.noAgent : this.keys.agent(e.agentId));
    for (const { entry: e, encoded } of sealed)
      args.push(encoded, e.hash, String(e.ts), e.agentId === null ? '0' : '1');
    const reply = this.redis.eval(APPEND_SCRIPT, { keys, arguments: args }) as Promise<Reply>;
    reply.catch(() => undefined); // read in order by drain; this only marks it handled meanwhile
    return { pending, attempt, entries: sealed.map((s) => s.entry), reply };
  }

  private async maybeCheckpoint(before: number, after: number): Promise<void> {
    const every = this.options.checkpointEvery;
    if (every > 0 && Math.floor(after / every) > Math.floor(before / every)) await this.checkpoint();
  }

  private async registerKey(): Promise<void> {
    if (this.keyRegistered) return;
    await this.redis.hSetNX(this.keys.keys, this.signer.keyId, this.signer.publicKeyRaw.toString('base64'));
    this.keyRegistered = true;
  }

  /** The current head: last seq (0 when empty) and its hash ('' when empty). */
  async readHead(): Promise<{ seq: number; hash: string }> {
    const [seq, hash] = await this.redis.hmGet(this.keys.head, ['seq', 'hash']);
    return { seq: Number(seq ?? 0), hash: hash ?? '' };
  }

  /** Signs the current head and stores the checkpoint in Redis; keep a copy elsewhere to detect rollbacks of Redis itself. */
  async checkpoint(): Promise<AuditCheckpoint> {
    await this.registerKey();
    const head = await this.readHead();
    const c = sealCheckpoint(head, this.options.now(), this.signer);
    await this.redis.rPush(this.keys.checkpoints, JSON.stringify(c));
    return c;
  }

  /** The checkpoints stored in Redis (malformed items are skipped and logged). */
  async checkpoints(): Promise<AuditCheckpoint[]> {
    const raws = await this.redis.lRange(this.keys.checkpoints, 0, -1);
    const out: AuditCheckpoint[] = [];
    for (const raw of raws) {
      const c = decodeCheckpoint(raw);
      if (c) out.push(c);
      else this.log.error({ raw }, 'malformed audit checkpoint in Redis');
    }
    return out;
  }

  /** Public keys registered by writers (key id → key). */
  async registryKeys(): Promise<Map<string, KeyObject>> {
    const all = await this.redis.hGetAll(this.keys.keys);
    return new Map(
      Object.entries(all).map(([id, raw]) => [id, publicKeyFromRaw(Buffer.from(raw, 'base64'))]),
    );
  }

  /** Number of stored entries. */
  length(): Promise<number> {
    return this.redis.lLen(this.keys.entries);
  }

  /** Raw stored entries from seq `from` to `to` (inclusive), read in chunks. */
  async *rawEntries(from = 1, to?: number): AsyncGenerator<string> {
    for await (const chunk of this.rawChunks(from, to)) yield* chunk;
  }

  /** Raw stored entries from seq `from` to `to` (inclusive), one chunk of up to 1000 at a time. */
  private async *rawChunks(from = 1, to?: number): AsyncGenerator<string[]> {
    const end = to ?? (await this.length());
    // The next chunk is requested before the current one is handed out, so reading overlaps checking.
    const read = (start: number) =>
      this.redis.lRange(this.keys.entries, start - 1, Math.min(end, start + CHUNK - 1) - 1);
    let next = from <= end ? read(from) : undefined;
    for (let start = from; next && start <= end; start += CHUNK) {
      const chunk = await next;
      next = start + CHUNK <= end ? read(start + CHUNK) : undefined;
      if (next) next.catch(() => undefined);
      if (chunk.length > 0) yield chunk;
      if (chunk.length < Math.min(CHUNK, end - start + 1)) return;
    }
  }

  /** The last `n` entries (decoded; undecodable ones are skipped and logged). */
  async tail(n = 20): Promise<AuditEntry[]> {
    const raws = await this.redis.lRange(this.keys.entries, -Math.max(1, n), -1);
    return this.decodeAll(raws);
  }

  /** Entries by agent, kind and time range (oldest first). Queries do not verify: run verify for that. */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const limit = q.limit ?? 1000;
    const sets: number[][] = [];
    const bySeq = async (key: string): Promise<number[]> =>
      (await this.redis.zRangeByScore(key, '-inf', '+inf')).map(Number);
    if (q.agentId !== undefined) sets.push(await bySeq(this.keys.agent(q.agentId)));
    if (q.kind !== undefined) sets.push(await bySeq(this.keys.kind(q.kind)));
    if (q.since !== undefined || q.until !== undefined) {
      const members = await this.redis.zRangeByScore(this.keys.time, q.since ?? '-inf', q.until ?? '+inf');
      sets.push(members.map(Number));
    }
    let seqs: number[];
    if (sets.length === 0) {
      const raws = await this.redis.lRange(this.keys.entries, 0, limit - 1);
      return this.decodeAll(raws);
    }
    seqs = sets.reduce((acc, s) => {
      const keep = new Set(s);
      return acc.filter((x) => keep.has(x));
    });
    seqs = [...new Set(seqs)].sort((x, y) => x - y).slice(0, limit);
    const raws = await Promise.all(seqs.map((s) => this.redis.lIndex(this.keys.entries, s - 1)));
    return this.decodeAll(raws.filter((r): r is string => typeof r === 'string'));
  }

  private decodeAll(raws: readonly string[]): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (const raw of raws) {
      const e = decodeEntry(raw);
      if (typeof e === 'string') this.log.error({ problem: e }, 'undecodable audit entry (run verify)');
      else out.push(e);
    }
    return out;
  }

  /** Writes the entries from..to as JSON Lines (one stored, canonical entry per line). Returns the count. */
  async exportJsonl(write: (line: string) => void | Promise<void>, from = 1, to?: number): Promise<number> {
    let n = 0;
    for await (const raw of this.rawEntries(from, to)) {
      await write(`${raw}\n`);
      n += 1;
    }
    return n;
  }

  /**
   * Verifies entries from..to (default: the whole log) and names the first bad one: edits, inserts,
   * deletions, reordering, forged signatures, rollback against any checkpoint (in Redis or given), and —
   * when checking to the end — tail truncation against the head and the checkpoints.
   */
  async verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    const from = options.from ?? 1;
    const length = await this.length();
    const head = await this.readHead();
    const keys = options.trustedKeys ?? (await this.registryKeys());
    const stored = await this.checkpoints();
    const checked = checkCheckpoints([...stored, ...(options.checkpoints ?? [])], keys);
    const to = options.to ?? Math.max(length, head.seq);
    const result = (extra: Partial<VerifyResult> & { checked: number }): VerifyResult => ({
      ok: extra.firstBad === undefined,
      from,
      to,
      checkpoints: checked.valid.length,
      ...extra,
    });
    if (checked.failure) return result({ checked: 0, firstBad: checked.failure });

    let prevHash = GENESIS_HASH;
    if (from > 1) {
      const raw = await this.redis.lIndex(this.keys.entries, from - 2);
      const prev = raw === null ? undefined : decodeEntry(raw);
      prevHash = typeof prev === 'object' ? prev.hash : '';
    }
    const end = Math.min(to, length);
    const workers = options.workers ?? (end - from + 1 >= PARALLEL_VERIFY_MIN ? defaultVerifyWorkers() : 0);
    const verifier = await verifyStream(this.rawChunks(from, end), {
      from,
      prevHash,
      keys,
      checkpoints: checked.valid,
      workers,
    });
    if (verifier.failure) return result({ checked: verifier.checked, firstBad: verifier.failure });
    const missingFrom = length + 1;
    if (to > length) {
      const why = head.seq > length ? `the head says ${head.seq}` : `entries up to ${to} were asked for`;
      return result({
        checked: verifier.checked,
        firstBad: {
          seq: missingFrom,
          reason: 'truncated',
          message: `entry ${missingFrom}: missing — the log ends at ${length} but ${why}: the tail was truncated`,
        },
      });
    }
    if (options.to === undefined) {
      if (head.seq === length && length > 0 && head.hash !== verifier.lastHash) {
        return result({
          checked: verifier.checked,
          firstBad: {
            seq: length,
            reason: 'head_mismatch',
            message: `entry ${length}: the head hash does not match the last entry`,
          },
        });
      }
      const beyond = checked.valid.filter((c) => c.seq > length).sort((x, y) => y.seq - x.seq)[0];
      if (beyond) {
        return result({
          checked: verifier.checked,
          firstBad: {
            seq: missingFrom,
            reason: 'truncated',
            message: `entry ${missingFrom}: missing — a checkpoint signed at ${new Date(beyond.ts).toISOString()} covers entries up to ${beyond.seq} but the log ends at ${length}: the tail was truncated or the log rolled back`,
          },
        });
      }
    }
    return result({ checked: verifier.checked });
  }
}
