import type { RedisCommander } from '../crypto/index.js';
import type { DeadLetterReason } from './dead-letter-reason.js';
import { DLQ_ADD_LUA } from './dlq-add.lua.js';
import { DLQ_REPLAY_LUA } from './dlq-replay.lua.js';
import { runScript } from './scripts.js';
import { BusUsageError } from './errors.js';
import type { EnvelopeHeader } from './envelope.js';
import { readFrameHeader } from './frame.js';
import { DEFAULT_BUS_OPTIONS, seenTtlMs, type BusOptions } from './options.js';
import { isReplyStream, type StreamKeys } from './stream-keys.js';

/**
 * A dead letter as listed (`ars dlq ls`): what was recorded, plus its entry id, time and whether it
 * can be replayed.
 */
export interface DeadLetter extends DeadLetterInput {
  readonly entryId: string;
  readonly at: number;
  /** True when the dead letter kept its signed envelope and its reason is one a replay can change. */
  readonly replayable: boolean;
}

export interface DeadLetterInput {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly messageId: string;
  /** The sender; with `unverified`, only the one its frame claims (the signature did not verify). */
  readonly from: string;
  readonly unverified?: boolean;
  readonly to: string;
  readonly kind: string;
  readonly stream: string;
  readonly group: string;
}

/** A received frame some of whose messages are dead-lettered. */
export interface DeadFrame {
  readonly stream: string;
  readonly group: string;
  readonly entryId: string;
  /** The frame's fields as received: kept still signed and encrypted. */
  readonly h: Buffer;
  readonly s: Buffer;
  readonly c: Buffer;
  readonly t: Buffer;
  /** Hex frame id, when the header could be read. */
  readonly fid: string;
}

/** One message of a dead frame; `index` is undefined when the frame itself was unreadable. */
export interface DeadFrameLetter {
  readonly reason: DeadLetterReason;
  readonly detail: string;
  readonly messageId: string;
  readonly from: string;
  /** Decided before the frame's signature verified (or it did not): `from` and `messageId` are claims. */
  readonly unverified: boolean;
  readonly to: string;
  readonly kind: string;
  readonly index: number | undefined;
}

const BUF = { typeMapping: { 36: Buffer } };

/**
 * Reasons a replay cannot change: the receiver would refuse the message again for the same reason,
 * or — for a replay of a frame already delivered — deliver it a second time.
 */
const NOT_REPLAYABLE: Partial<Record<DeadLetterReason, string>> = {
  replayed:
    'it is a copy of a frame that was already delivered or is pending; replaying it would deliver that message twice',
  bad_signature: 'its frame is malformed or its signature does not verify; a replay cannot make it valid',
  wrong_recipient:
    'it was addressed to another recipient than the stream it arrived on; a replay puts it back on the same stream',
};
/** The dead letter kept the frame it came from (a sender-side drop has none). */
const hasFrame = (s: (k: string) => string): boolean =>
  s('frame') !== '' && /^\d+$/.test(s('i')) && s('fid') !== '' && s('stream') !== '';

/** A dead letter from the fields of its DLQ entry (`s` reads one field as text). */
const deadLetterOf = (entryId: string, s: (k: string) => string): DeadLetter => ({
  entryId,
  reason: s('reason') as DeadLetterReason,
  detail: s('detail'),
  messageId: s('id'),
  from: s('from'),
  to: s('to'),
  kind: s('kind'),
  stream: s('stream'),
  group: s('group'),
  at: Number(s('at')),
  replayable: hasFrame(s) && NOT_REPLAYABLE[s('reason') as DeadLetterReason] === undefined,
  ...(s('unverified') === '1' ? { unverified: true } : {}),
});
/** Approximate cap of the dead-letter stream. */
export const DLQ_MAX_LEN = 1_000_000;
/** How long the frame a dead letter came from is kept for `replay`. @default 604_800_000 (7 days) */
export const DLQ_FRAME_TTL_MS = 604_800_000;

/** What a replay checks the message against: the receiver's replay window. */
export type ReplayWindow = Pick<BusOptions, 'replayWindowMs' | 'maxClockSkewMs'>;

/** The dead-letter stream: append, list, replay. */
export class DeadLetters {
  constructor(
    private readonly redis: RedisCommander,
    private readonly keys: StreamKeys,
    private readonly window: ReplayWindow = DEFAULT_BUS_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {}

  async add(d: DeadLetterInput): Promise<void> {
    const args: (string | Buffer)[] = ['XADD', this.keys.dlq, 'MAXLEN', '~', String(DLQ_MAX_LEN), '*'];
    args.push('reason', d.reason, 'detail', d.detail, 'id', d.messageId, 'from', d.from, 'to', d.to);
    args.push('kind', d.kind, 'stream', d.stream, 'group', d.group, 'at', String(Date.now()));
    await this.redis.sendCommand(args);
  }

  /** Dead-letters messages of one received frame and keeps the frame once (dlq-add.lua.ts). */
  async addFromFrame(frame: DeadFrame, letters: readonly DeadFrameLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const frameKey = this.keys.dlqFrame(frame.stream, frame.entryId);
    const at = String(Date.now());
    const args: (string | Buffer)[] = [String(DLQ_MAX_LEN), String(DLQ_FRAME_TTL_MS)];
    args.push(frame.h, frame.s, frame.c, frame.t, '14');
    for (const d of letters) {
      args.push(`${frame.group}:${d.index ?? ''}`);
      args.push('reason', d.reason, 'detail', d.detail, 'id', d.messageId, 'from', d.from, 'to', d.to);
      args.push('kind', d.kind, 'stream', frame.stream, 'group', frame.group, 'at', at);
      args.push('frame', frameKey, 'i', d.index === undefined ? '' : String(d.index), 'fid', frame.fid);
      args.push('entry', frame.entryId, 'unverified', d.unverified ? '1' : '0');
    }
    await runScript(this.redis, DLQ_ADD_LUA, [this.keys.dlq, frameKey], args);
  }

  /** Newest first; optionally only one reason. */
  async list(options: { count?: number; reason?: DeadLetterReason } = {}): Promise<DeadLetter[]> {
    const count = options.count ?? 50;
    const out: DeadLetter[] = [];
    let end = '+';
    while (out.length < count) {
      const rows = await this.redis.sendCommand<[Buffer, Buffer[]][]>(
        ['XREVRANGE', this.keys.dlq, end, '-', 'COUNT', String(Math.max(count, 100))],
        BUF,
      );
      if (rows.length === 0) break;
      for (const [id, flat] of rows) {
        const f = new Map<string, Buffer>();
        for (let i = 0; i + 1 < flat.length; i += 2)
          f.set((flat[i] as Buffer).toString(), flat[i + 1] as Buffer);
        const s = (k: string): string => f.get(k)?.toString() ?? '';
        const reason = s('reason') as DeadLetterReason;
        if (options.reason && reason !== options.reason) continue;
        out.push(deadLetterOf(id.toString(), s));
        if (out.length >= count) break;
      }
      const last = rows[rows.length - 1];
      if (!last || rows.length < Math.max(count, 100)) break;
      end = `(${last[0].toString()}`;
    }
    return out;
  }

  /** Re-adds a dead letter to its stream (see dlq-replay.lua.ts); returns the new entry id. */
  async replay(entryId: string): Promise<string> {
    const [found] = await this.findOne(entryId);
    if (!found)
      throw new BusUsageError(`dead letter '${entryId}' does not exist; list them with 'ars dlq ls'`);
    const refused = NOT_REPLAYABLE[found.reason];
    if (refused)
      throw new BusUsageError(`dead letter '${entryId}' (${found.reason}) is not replayed: ${refused}`);
    // not refused for its reason, so not replayable for want of a frame
    if (!found.replayable) {
      throw new BusUsageError(
        `dead letter '${entryId}' (${found.reason}) was dropped before it was sealed, so it has no envelope to replay; the sender must send it again`,
      );
    }
    const gone = (): BusUsageError =>
      new BusUsageError(
        `dead letter '${entryId}' can no longer be replayed: its frame expired (frames are kept ${DLQ_FRAME_TTL_MS} ms)`,
      );
    await this.checkStillValid(entryId, found.frame, found.index, gone);
    const seen = this.keys.seen(found.stream, found.group, found.fid);
    try {
      const id = await runScript<string>(
        this.redis,
        DLQ_REPLAY_LUA,
        [this.keys.dlq, found.stream, seen, found.frame],
        [
          entryId,
          String(found.index),
          found.group,
          String(seenTtlMs(this.window)),
          isReplyStream(found.stream) ? '1' : '0',
        ],
      );
      return String(id);
    } catch (error) {
      const message = String((error as Error)?.message);
      if (message.includes('NOENVELOPE')) throw gone();
      if (message.includes('NOSTREAM'))
        throw new BusUsageError(
          `dead letter '${entryId}' is a reply to a bus that has closed, or where its agent stopped consuming (${found.stream} is gone): nobody would read it; the requester must ask again`,
        );
      throw error;
    }
  }

  /**
   * Refuses, before anything changes, a replay the receiver would refuse again: a message past its
   * TTL, or sent longer ago than the replay window. (The sender must send such a message again.)
   */
  private async checkStillValid(
    entryId: string,
    frameKey: string,
    index: number,
    gone: () => BusUsageError,
  ): Promise<void> {
    const h = await this.redis.sendCommand<Buffer | null>(['HGET', frameKey, 'h'], BUF);
    if (!h) throw gone();
    let env: EnvelopeHeader | undefined;
    try {
      env = readFrameHeader(Buffer.from(h)).envs[index];
    } catch {
      env = undefined;
    }
    if (!env)
      throw new BusUsageError(
        `dead letter '${entryId}' names message ${index}, which its frame does not hold`,
      );
    const now = this.now();
    const sent = new Date(env.ts).toISOString();
    if (env.ts + env.ttl < now)
      throw new BusUsageError(
        `dead letter '${entryId}' is not replayed: the message (sent ${sent}, ttl ${env.ttl} ms) has expired, so the receiver would refuse it again; the sender must send it again`,
      );
    if (env.ts < now - this.window.replayWindowMs)
      throw new BusUsageError(
        `dead letter '${entryId}' is not replayed: the message was sent ${sent}, before the replay window (${this.window.replayWindowMs} ms), so the receiver would refuse it again; the sender must send it again`,
      );
  }

  private async findOne(
    entryId: string,
  ): Promise<(DeadLetter & { frame: string; index: number; fid: string })[]> {
    if (!/^\d+-\d+$/.test(entryId))
      throw new BusUsageError(`'${entryId}' is not a stream entry id (like 1712345678901-0)`);
    const rows = await this.redis.sendCommand<[Buffer, Buffer[]][]>(
      ['XRANGE', this.keys.dlq, entryId, entryId],
      BUF,
    );
    const row = rows[0];
    if (!row) return [];
    const f = new Map<string, Buffer>();
    for (let i = 0; i + 1 < row[1].length; i += 2)
      f.set((row[1][i] as Buffer).toString(), row[1][i + 1] as Buffer);
    const s = (k: string): string => f.get(k)?.toString() ?? '';
    return [
      {
        ...deadLetterOf(entryId, s),
        frame: s('frame'),
        index: Number(s('i')),
        fid: s('fid'),
      },
    ];
  }
}
