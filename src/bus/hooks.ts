import type { DeadLetterReason } from './dead-letter-reason.js';
import type { DeliveryLevel, MessageKind } from './envelope.js';

/** What the pre-send policy sees about a message (never its payload). */
export interface SendMeta {
  readonly messageId: string;
  readonly kind: MessageKind;
  readonly from: string;
  /** Agent id for direct/request/reply, topic for publish, '*' for broadcast. */
  readonly to: string;
  readonly size: number;
  readonly delivery: DeliveryLevel;
}

/** A policy's answer. */
export interface SendDecision {
  readonly allowed: boolean;
  readonly reasons: string[];
}

/**
 * Asked before every send. A throw, a rejected promise or a malformed answer counts as a deny (fail
 * closed). A policy that can answer without I/O may return the decision directly: the bus then
 * keeps the message on its synchronous fast path.
 */
export interface PreSendPolicy {
  checkSend(meta: SendMeta): Promise<SendDecision> | SendDecision;
}

/** One audit event of the bus. */
export type BusAuditEvent =
  | {
      readonly kind: 'message.sent';
      readonly messageId: string;
      readonly from: string;
      readonly to: string;
      readonly messageKind: MessageKind;
      readonly at: number;
    }
  | {
      readonly kind: 'message.delivered';
      readonly messageId: string;
      readonly from: string;
      readonly to: string;
      readonly messageKind: MessageKind;
      readonly at: number;
    }
  | {
      readonly kind: 'message.dropped';
      readonly messageId: string;
      /**
       * The sender; with `unverified`, only the one the frame claims (its signature was not checked,
       * or did not verify, when it was dropped), so anyone able to write to Redis could have named it.
       */
      readonly from: string;
      readonly unverified?: true;
      readonly to: string;
      readonly reason: DeadLetterReason | 'handler_failed';
      readonly detail: string;
      readonly at: number;
    };

/** Receives the bus's audit events (the audit trail adapts to this). */
export interface BusAuditSink {
  record(event: BusAuditEvent): Promise<void> | void;
}

/** The default policy: allow everything. */
export const allowAllPolicy: PreSendPolicy = {
  checkSend: () => ({ allowed: true, reasons: [] }),
};

/** The default sink: drops every event. */
export const noopAuditSink: BusAuditSink = { record: () => undefined };

function judge(decision: SendDecision | undefined): SendDecision {
  if (decision?.allowed === true)
    return { allowed: true, reasons: Array.isArray(decision.reasons) ? decision.reasons : [] };
  return {
    allowed: false,
    reasons: Array.isArray(decision?.reasons) ? decision.reasons : ['policy denied'],
  };
}

function failed(error: unknown): SendDecision {
  return {
    allowed: false,
    reasons: [`policy engine failed (fail closed): ${(error as Error)?.message ?? String(error)}`],
  };
}

/**
 * Asks `policy`, treating a throw, a rejection or a malformed answer as a deny. Returns the decision
 * directly when the policy answered synchronously, else a promise of it (which never rejects).
 */
export function checkSendFailClosed(
  policy: PreSendPolicy,
  meta: SendMeta,
): SendDecision | Promise<SendDecision> {
  let answer: Promise<SendDecision> | SendDecision;
  try {
    answer = policy.checkSend(meta);
  } catch (error) {
    return failed(error);
  }
  if (answer && typeof (answer as Promise<SendDecision>).then === 'function')
    return Promise.resolve(answer).then(judge, failed);
  return judge(answer as SendDecision);
}
