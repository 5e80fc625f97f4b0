import type { Keystore, RedisCommander } from '../crypto/index.js';
import type { Logger } from '../util/logger.js';
import type { DeadLetters } from './dead-letters.js';
import type { BusAuditSink, PreSendPolicy } from './hooks.js';
import type { BusOptions } from './options.js';
import type { SignatureMemo } from './signature-memo.js';
import type { StreamKeys } from './stream-keys.js';

/** What the sender and the consumers share inside one bus. */
export interface BusContext {
  readonly redis: RedisCommander;
  readonly options: BusOptions;
  readonly keys: StreamKeys;
  /** Present exactly when options.security is 'signed-encrypted'. */
  readonly keystore: Keystore | undefined;
  readonly policy: PreSendPolicy;
  readonly audit: BusAuditSink;
  readonly logger: Logger;
  readonly deadLetters: DeadLetters;
  readonly now: () => number;
  /** Frame signatures this bus made or verified lately (signature-memo.ts). */
  readonly signatures: SignatureMemo;
}

/** Records an audit event without letting a failing sink break delivery (the failure is logged). */
export function audit(ctx: BusContext, event: Parameters<BusAuditSink['record']>[0]): void {
  try {
    const r = ctx.audit.record(event);
    if (r && typeof r.then === 'function') {
      r.catch((error: unknown) =>
        ctx.logger.error({ err: error, event: event.kind }, 'bus audit sink failed'),
      );
    }
  } catch (error) {
    ctx.logger.error({ err: error, event: event.kind }, 'bus audit sink failed');
  }
}
