import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';

/** Defaults of the audit log. */
export const DEFAULT_AUDIT_LOG_OPTIONS = {
  /** Prefix of every Redis key of the log. @default 'ars:audit' */
  keyPrefix: 'ars:audit',
  /** Most entries sealed and appended by one script call (group commit). @default 256 */
  maxBatch: 256,
  /** Batches sealed and sent ahead while earlier ones are still in Redis (pipelined group commit). @default 4 */
  pipelineDepth: 4,
  /** Compare-and-set attempts before an append fails with AuditConflictError. @default 100 */
  maxRetries: 100,
  /** Write a signed checkpoint each time the head crosses a multiple of this; 0 disables. @default 1000 */
  checkpointEvery: 1000,
} as const;

const optionsSchema = z.strictObject({
  keyPrefix: z.string().min(1, 'keyPrefix must not be empty').default(DEFAULT_AUDIT_LOG_OPTIONS.keyPrefix),
  maxBatch: z
    .int()
    .min(1, 'maxBatch must be at least 1')
    .max(10_000, 'maxBatch must be at most 10000')
    .default(DEFAULT_AUDIT_LOG_OPTIONS.maxBatch),
  pipelineDepth: z
    .int()
    .min(1, 'pipelineDepth must be at least 1')
    .max(64, 'pipelineDepth must be at most 64')
    .default(DEFAULT_AUDIT_LOG_OPTIONS.pipelineDepth),
  maxRetries: z.int().min(1, 'maxRetries must be at least 1').default(DEFAULT_AUDIT_LOG_OPTIONS.maxRetries),
  checkpointEvery: z
    .int()
    .min(0, 'checkpointEvery must be 0 (off) or more')
    .default(DEFAULT_AUDIT_LOG_OPTIONS.checkpointEvery),
  /** @default silentLogger */
  logger: z
    .custom<Logger>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Logger).error === 'function',
      'logger must be a pino Logger',
    )
    .optional(),
  /** Clock, for tests. @default Date.now */
  now: z.custom<() => number>((v) => typeof v === 'function', 'now must be a function').optional(),
});

export type AuditLogOptionsInput = z.input<typeof optionsSchema>;
export interface AuditLogOptions {
  readonly keyPrefix: string;
  readonly maxBatch: number;
  readonly pipelineDepth: number;
  readonly maxRetries: number;
  readonly checkpointEvery: number;
  readonly logger: Logger;
  readonly now: () => number;
}

export function compileAuditLogOptions(input: AuditLogOptionsInput = {}): AuditLogOptions {
  const p = parseOrThrow(optionsSchema, input, 'audit log options');
  return { ...p, logger: p.logger ?? silentLogger, now: p.now ?? Date.now };
}

/** The Redis keys of one log. */
export function auditKeys(prefix: string) {
  return {
    entries: `${prefix}:entries`,
    head: `${prefix}:head`,
    time: `${prefix}:idx:time`,
    kind: (kind: string) => `${prefix}:idx:kind:${kind}`,
    agent: (agentId: string) => `${prefix}:idx:agent:${agentId}`,
    noAgent: `${prefix}:idx:no-agent`,
    checkpoints: `${prefix}:checkpoints`,
    keys: `${prefix}:keys`,
  };
}
