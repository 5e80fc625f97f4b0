import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import { REDIS_URL_FORMS, REDIS_URL_PATTERN } from '../util/redis-url.js';

/** Defaults of {@link compileBusOptions}. */
export const DEFAULT_BUS_OPTIONS = {
  /** Redis URL. @default 'redis://127.0.0.1:6379' */
  redisUrl: 'redis://127.0.0.1:6379',
  /** Prefix of every key the bus writes. @default 'ars:bus' */
  prefix: 'ars:bus',
  /** 'signed-encrypted' (Ed25519 batch signatures + AES-256-GCM) or 'off'. @default 'signed-encrypted' */
  security: 'signed-encrypted',
  /** Largest payload in bytes; checked before any crypto. @default 262_144 */
  maxMessageBytes: 262_144,
  /** Time to live of a message unless the sender sets one. @default 60_000 */
  defaultTtlMs: 60_000,
  /** Largest TTL a sender may set; at most replayWindowMs. @default 300_000 */
  maxTtlMs: 300_000,
  /**
   * Messages older than this (by their timestamp) are rejected as replays; frame ids are remembered
   * this long plus twice maxClockSkewMs ({@link seenTtlMs}). @default 300_000
   */
  replayWindowMs: 300_000,
  /** How far in the future a timestamp may be. @default 5_000 */
  maxClockSkewMs: 5_000,
  /** An unacked entry is redelivered (XAUTOCLAIM) after this idle time. @default 30_000 */
  visibilityTimeoutMs: 30_000,
  /** How often a consumer looks for entries to reclaim. @default 1_000 */
  claimIntervalMs: 1_000,
  /**
   * Attempts at a message before it is dead-lettered (too_many_attempts): a handler that throws is run
   * again in place (see handlerRetryMs), and an entry redelivered after a crash counts its deliveries.
   * @default 5
   */
  maxAttempts: 5,
  /**
   * Wait before a failed handler is run again, doubled at each attempt up to handlerRetryMaxMs. The
   * consumer handles nothing else meanwhile: that keeps each sender's order. @default 100
   */
  handlerRetryMs: 100,
  /** Longest wait between two attempts of a failing handler. @default 5_000 */
  handlerRetryMaxMs: 5_000,
  /** How long exactly-once de-duplication marks live. @default 86_400_000 */
  dedupTtlMs: 86_400_000,
  /** Most envelopes in one frame (one signature, one XADD). @default 256 */
  maxBatch: 256,
  /** Most payload bytes in one frame; a batch is written once it reaches this. @default 1_048_576 */
  maxFrameBytes: 1_048_576,
  /** Frames read per XREADGROUP. @default 32 */
  readCount: 32,
  /** How long a blocking read waits before looping. @default 1_000 */
  blockMs: 1_000,
  /**
   * Most entries the shared topic and broadcast streams keep. They are trimmed to what every group
   * still needs; beyond this cap the entries a group has not finished are cut, and a `trimmed` dead
   * letter names the group and the range it lost. @default 100_000
   */
  sharedStreamMaxLen: 100_000,
  /** How often a bus trims the shared streams. @default 5_000 */
  sharedStreamTrimMs: 5_000,
  /**
   * A group that keeps losing entries to the cap (one nobody reads any more) gets a `trimmed` dead
   * letter for its first cut at once, then at most one per this interval, naming everything it lost
   * since its last one. @default 600_000 (10 min)
   */
  trimmedReportMs: 600_000,
  /**
   * Per-agent token bucket, one per agent for every process on the bus (in Redis): messages per
   * second. Processes sharing a prefix should agree on it; each take applies the taker's. @default 20_000
   */
  ratePerSecond: 20_000,
  /** Per-agent token bucket: burst size. @default 20_000 */
  rateBurst: 20_000,
  /** How long the local copy of the agent registry is trusted. @default 1_000 */
  registryCacheMs: 1_000,
} as const;

const D = DEFAULT_BUS_OPTIONS;
const busOptionsSchema = z
  .strictObject({
    redisUrl: z
      .string()
      .regex(REDIS_URL_PATTERN, `redisUrl must start with ${REDIS_URL_FORMS}`)
      .default(D.redisUrl),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]+$/, 'prefix may hold letters, digits and : _ . -')
      .default(D.prefix),
    security: z.enum(['signed-encrypted', 'off']).default(D.security),
    maxMessageBytes: z
      .int()
      .min(1)
      .max(64 * 1024 * 1024)
      .default(D.maxMessageBytes),
    defaultTtlMs: z.int().min(1).default(D.defaultTtlMs),
    maxTtlMs: z.int().min(1).default(D.maxTtlMs),
    replayWindowMs: z.int().min(1000).default(D.replayWindowMs),
    maxClockSkewMs: z.int().min(0).default(D.maxClockSkewMs),
    visibilityTimeoutMs: z.int().min(10).default(D.visibilityTimeoutMs),
    claimIntervalMs: z.int().min(10).default(D.claimIntervalMs),
    maxAttempts: z.int().min(1).default(D.maxAttempts),
    handlerRetryMs: z.int().min(0).default(D.handlerRetryMs),
    handlerRetryMaxMs: z.int().min(0).default(D.handlerRetryMaxMs),
    dedupTtlMs: z.int().min(1000).default(D.dedupTtlMs),
    maxBatch: z.int().min(1).max(4096).default(D.maxBatch),
    maxFrameBytes: z
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(D.maxFrameBytes),
    readCount: z.int().min(1).max(10_000).default(D.readCount),
    blockMs: z.int().min(1).default(D.blockMs),
    sharedStreamMaxLen: z.int().min(100).default(D.sharedStreamMaxLen),
    sharedStreamTrimMs: z.int().min(10).default(D.sharedStreamTrimMs),
    trimmedReportMs: z.int().min(0).default(D.trimmedReportMs),
    ratePerSecond: z.number().positive().default(D.ratePerSecond),
    rateBurst: z.int().min(1).default(D.rateBurst),
    registryCacheMs: z.int().min(0).default(D.registryCacheMs),
  })
  .refine((o) => o.defaultTtlMs <= o.maxTtlMs, {
    message: 'defaultTtlMs must not exceed maxTtlMs',
    path: ['defaultTtlMs'],
  })
  .refine((o) => o.handlerRetryMs <= o.handlerRetryMaxMs, {
    message: 'handlerRetryMs must not exceed handlerRetryMaxMs',
    path: ['handlerRetryMs'],
  })
  // a message older than the replay window is refused as a possible replay whatever its TTL, so a
  // longer TTL would be a promise the receiver cannot keep
  .refine((o) => o.maxTtlMs <= o.replayWindowMs, {
    message:
      'maxTtlMs must not exceed replayWindowMs (messages older than the replay window are refused); raise replayWindowMs too',
    path: ['maxTtlMs'],
  });

export type BusOptionsInput = z.input<typeof busOptionsSchema>;
export type BusOptions = z.output<typeof busOptionsSchema>;

/**
 * How long the replay window remembers a frame id. A copy of a frame is accepted while its timestamp
 * is in [now − replayWindowMs, now + maxClockSkewMs]; the first reader may have read it as much as
 * maxClockSkewMs before its timestamp, so the mark must outlive the window by that much. Twice that,
 * for the offset between the reader's clock and the sender's in the other direction.
 */
export function seenTtlMs(o: Pick<BusOptions, 'replayWindowMs' | 'maxClockSkewMs'>): number {
  return o.replayWindowMs + 2 * o.maxClockSkewMs;
}

/** Validates bus options and applies the defaults; throws ConfigError naming each bad field. */
export function compileBusOptions(input: BusOptionsInput = {}): BusOptions {
  return parseOrThrow(busOptionsSchema, input, 'bus options');
}
