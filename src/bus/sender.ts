import { randomFillSync, type KeyObject } from 'node:crypto';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, sealAesGcmInto, signEd25519 } from '../crypto/index.js';
import { audit, type BusContext } from './context.js';
import type { DeadLetterReason } from './dead-letter-reason.js';
import type { EnvelopeHeader } from './envelope.js';
import { encodeFrameHeaderFrom, frameSignedBytes, FRAME_ID_BYTES } from './frame.js';
import { Pruner } from './prune.js';
import { agentKeyOwner } from './stream-keys.js';

/** A message accepted for sending, waiting in a lane. */
export interface Outgoing {
  readonly header: EnvelopeHeader;
  readonly payload: Buffer;
  resolve(entryId: string): void;
  /** Settles the send as dead-lettered (the letter is written). */
  dropped(reason: DeadLetterReason, detail: string): void;
  reject(error: unknown): void;
}

/** The messages of one sender bound for one stream: they share frames, keys and order. */
export interface Lane {
  readonly stream: string;
  readonly from: string;
  /** Keystore owner of the key the frame body is encrypted with. */
  readonly keyOwner: string;
  /**
   * Written only if the stream exists (XADD NOMKSTREAM): a process's reply stream, which is gone
   * once that process is (see `onMissing`).
   */
  readonly mustExist: boolean;
  items: Outgoing[];
  bytes: number;
  /** Frames written but not yet acknowledged by Redis. */
  inFlight: number;
  /** Set while a frame waits for its keys to load: later frames queue behind it to keep order. */
  chain: Promise<void> | undefined;
  /** Set while a message of the lane waits for an asynchronous policy or registry answer (bus.ts). */
  checks: Promise<void> | undefined;
  scheduled: boolean;
}

interface FrameKeys {
  readonly kid: string;
  readonly signingKey: KeyObject;
  readonly ekid: string;
  readonly key: Buffer;
}

const EMPTY: Buffer = Buffer.alloc(0);
const POOL_BYTES = 4096;
let pool: Buffer = Buffer.alloc(0);
let poolAt = 0;

/**
 * `n` fresh random bytes from the CSPRNG, drawn from a pool filled 4 KB at a time (one
 * randomFillSync per ~140 frames instead of two per frame). A drawn slice is never handed out again:
 * a new pool is allocated when one runs out, so frame ids and nonces stay unique.
 */
function random(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
    poolAt = 0;
  }
  const out = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return out;
}

/** Nothing queued, in flight or being checked: dropping the lane loses nothing. */
const idleLane = (l: Lane): boolean =>
  l.items.length === 0 && l.inFlight === 0 && l.chain === undefined && l.checks === undefined && !l.scheduled;

/**
 * Collects messages per (stream, sender) lane and writes each batch as one frame with one XADD:
 * one AES-256-GCM seal and one Ed25519 signature per frame. A message sent while its lane is idle
 * is written at once (no batching delay for a lone request); messages sent while a frame is in
 * flight are batched and written on the next turn of the event loop, or as soon as the batch is
 * full (maxBatch messages or maxFrameBytes). Frames of a lane are issued on one connection in send
 * order, so per sender→stream order holds.
 */
export class FrameWriter {
  private readonly lanes = new Map<string, Lane>();
  private readonly due: Lane[] = [];
  private scheduled = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly audited: boolean;
  private last: Lane | undefined;
  private readonly pruner: Pruner;

  /**
   * @param onMissing settles the messages of a frame that was not written because its lane's stream
   *   must exist and does not.
   */
  constructor(
    private readonly ctx: BusContext,
    audited: boolean,
    private readonly onMissing: (lane: Lane, items: Outgoing[]) => void = (_, items) => {
      for (const o of items) o.reject(new Error(`stream does not exist`));
    },
  ) {
    this.audited = audited;
    this.pruner = new Pruner(ctx.now);
  }

  /** Lanes kept now (an idle lane is pruned once there are many: it is created again when used). */
  get laneCount(): number {
    return this.lanes.size;
  }

  /**
   * The lane of (stream, from). `keyOwner` is the encryption key's owner; '' means the inbox key of
   * `recipient`. The last lane used is remembered: a run of sends to one stream finds it at once.
   */
  lane(stream: string, from: string, recipient: string, keyOwner: string, mustExist = false): Lane {
    const last = this.last;
    if (last !== undefined && last.stream === stream && last.from === from) return last;
    const key = `${stream}\0${from}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      if (this.pruner.sweep(this.lanes, idleLane) > 0) this.last = undefined;
      lane = {
        stream,
        from,
        keyOwner: keyOwner === '' ? agentKeyOwner(recipient) : keyOwner,
        mustExist,
        items: [],
        bytes: 0,
        inFlight: 0,
        chain: undefined,
        checks: undefined,
        scheduled: false,
      };
      this.lanes.set(key, lane);
    }
    this.last = lane;
    return lane;
  }

  enqueue(lane: Lane, out: Outgoing): void {
    const idle = lane.items.length === 0 && lane.inFlight === 0 && lane.chain === undefined;
    lane.items.push(out);
    lane.bytes += out.payload.length;
    const { maxBatch, maxFrameBytes } = this.ctx.options;
    if (idle || lane.items.length >= maxBatch || lane.bytes >= maxFrameBytes) this.flushLane(lane);
    else if (!lane.scheduled) {
      lane.scheduled = true;
      this.due.push(lane);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    }
  }

  /** Writes every pending batch now. */
  flush(): void {
    this.scheduled = false;
    const due = this.due.splice(0);
    for (const lane of due) {
      lane.scheduled = false;
      if (lane.items.length > 0) this.flushLane(lane);
    }
  }

  /** Resolves when everything enqueued so far has been written. */
  async drain(): Promise<void> {
    for (const lane of this.lanes.values()) if (lane.items.length > 0) this.flushLane(lane);
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private flushLane(lane: Lane): void {
    const items = lane.items;
    lane.items = [];
    lane.bytes = 0;
    lane.inFlight++;
    const ks = this.ctx.keystore;
    if (lane.chain === undefined) {
      if (!ks) {
        this.track(this.issue(lane, items, undefined));
        return;
      }
      const sk = ks.peekSigningKey(agentKeyOwner(lane.from));
      const ek = ks.peekEncryptionKey(lane.keyOwner);
      if (sk && ek) {
        this.track(
          this.issue(lane, items, { kid: sk.kid, signingKey: sk.privateKey, ekid: ek.kid, key: ek.key }),
        );
        return;
      }
    }
    // keys must be loaded (or an earlier frame of the lane is still waiting for them): queue behind
    const step = (lane.chain ?? Promise.resolve()).then(async () => {
      let keys: FrameKeys | undefined;
      try {
        if (ks) {
          const [sk, ek] = await Promise.all([
            ks.currentSigningKey(agentKeyOwner(lane.from)),
            ks.currentEncryptionKey(lane.keyOwner),
          ]);
          keys = { kid: sk.kid, signingKey: sk.privateKey, ekid: ek.kid, key: ek.key };
        }
      } catch (error) {
        lane.inFlight--;
        for (const o of items) o.reject(error);
        return;
      }
      this.track(this.issue(lane, items, keys));
    });
    lane.chain = step;
    this.track(step);
    void step.then(() => {
      if (lane.chain === step) lane.chain = undefined;
    });
  }

  /** Builds the frame and issues its XADD synchronously; the promise settles with Redis's reply. */
  private async issue(lane: Lane, items: Outgoing[], keys: FrameKeys | undefined): Promise<void> {
    let entryId: string;
    try {
      const pending = this.ctx.redis.sendCommand<string | null>(this.frameCommand(lane, items, keys));
      const reply = await pending;
      if (reply === null || reply === undefined) {
        this.onMissing(lane, items);
        return;
      }
      entryId = reply;
    } catch (error) {
      for (const o of items) o.reject(error);
      return;
    } finally {
      lane.inFlight--;
    }
    if (this.audited) {
      const at = this.ctx.now();
      for (const o of items) {
        const { id, to, kind } = o.header;
        audit(this.ctx, { kind: 'message.sent', messageId: id, from: lane.from, to, messageKind: kind, at });
      }
    }
    for (const o of items) o.resolve(entryId);
  }

  private frameCommand(lane: Lane, items: Outgoing[], keys: FrameKeys | undefined): (string | Buffer)[] {
    const n = items.length;
    const headers: EnvelopeHeader[] = new Array<EnvelopeHeader>(n);
    let bodyBytes = 0;
    for (let i = 0; i < n; i++) {
      const o = items[i] as Outgoing;
      headers[i] = o.header;
      bodyBytes += o.payload.length;
    }
    let plain: Buffer;
    if (n === 1) plain = (items[0] as Outgoing).payload;
    else {
      plain = Buffer.allocUnsafe(bodyBytes);
      let p = 0;
      for (let i = 0; i < n; i++) p += (items[i] as Outgoing).payload.copy(plain, p);
    }
    const fid = random(FRAME_ID_BYTES);
    let h: Buffer;
    let c: Buffer;
    let t = EMPTY;
    let s = EMPTY;
    if (keys) {
      const nonce = random(AEAD_NONCE_BYTES);
      h = encodeFrameHeaderFrom({ fid, from: lane.from, kid: keys.kid, ekid: keys.ekid, nonce }, headers);
      c = Buffer.allocUnsafe(plain.length);
      t = Buffer.allocUnsafe(AEAD_TAG_BYTES);
      sealAesGcmInto(keys.key, nonce, h, plain, c, t);
      const signed = frameSignedBytes(h, c, t);
      s = signEd25519(keys.signingKey, signed);
      this.ctx.signatures.remember(s, signed);
    } else {
      h = encodeFrameHeaderFrom({ fid, from: lane.from, kid: null, ekid: null, nonce: null }, headers);
      c = plain;
    }
    const args: (string | Buffer)[] = lane.mustExist
      ? ['XADD', lane.stream, 'NOMKSTREAM', '*']
      : ['XADD', lane.stream, '*'];
    // `f` (security on): the frame id in plain hex, for the replay check pipelined behind a read (the
    // receiver uses its answer only when `f` equals the signed frame id in `h`; seen-pending.lua.ts)
    if (keys) args.push('f', fid.toString('hex'));
    args.push('h', h, 's', s, 'c', c, 't', t);
    return args;
  }
}
