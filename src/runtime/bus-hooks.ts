import type { AuditEventInput, AuditLog } from '../audit/index.js';
import type { BusAuditEvent, BusAuditSink, PreSendPolicy, SendDecision, SendMeta } from '../bus/index.js';
import type { PolicyEngine } from '../policy/index.js';
import type { Logger } from '../util/logger.js';

/**
 * The pre-send hook of the bus, answered by the Cedar engine: direct messages, requests and replies
 * are `SendMessage` to the recipient agent, topic messages `Publish` to the topic, broadcasts
 * `Publish` to the topic `*`. Bus identities are the Cedar entity ids. The engine never throws (any
 * failure is a deny carrying the error); the bus fails closed on a throw anyway.
 */
export function busPolicyFromEngine(engine: PolicyEngine): PreSendPolicy {
  return {
    checkSend(meta: SendMeta): SendDecision {
      const base = { sender: meta.from, size: meta.size };
      const decision =
        meta.kind === 'topic' || meta.kind === 'broadcast'
          ? engine.checkSend({ ...base, topic: meta.kind === 'broadcast' ? '*' : meta.to })
          : engine.checkSend({ ...base, recipient: meta.to });
      return { allowed: decision.decision === 'allow', reasons: [...decision.reasons, ...decision.errors] };
    },
  };
}

export interface BusAuditOptions {
  /** Which bus events to audit. @default all three: sent, delivered, dropped */
  readonly kinds?: readonly BusAuditEvent['kind'][];
  readonly logger?: Logger;
}

/**
 * The bus's audit events, appended to the audit trail. Every message audited costs one signed
 * entry, so the audit append rate bounds the audited message rate; `kinds: ['message.dropped']`
 * keeps only the security-relevant drops.
 */
export function busAuditToLog(audit: AuditLog, options: BusAuditOptions = {}): BusAuditSink {
  const kinds = new Set(options.kinds ?? ['message.sent', 'message.delivered', 'message.dropped']);
  return {
    async record(event: BusAuditEvent): Promise<void> {
      if (!kinds.has(event.kind)) return;
      const data: Record<string, unknown> = {
        messageId: event.messageId,
        sender: event.from,
        recipient: event.to,
      };
      // a sender claimed by a frame whose signature did not verify is not an actor: the entry is the
      // bus's, and names the claim as such
      let actor = `agent:${event.from}`;
      if (event.kind === 'message.dropped') {
        Object.assign(data, { reason: event.reason, detail: event.detail });
        if (event.unverified) {
          actor = 'bus';
          data.senderVerified = false;
        }
      } else data.messageKind = event.messageKind;
      const input: AuditEventInput = { kind: event.kind, actor, ts: event.at, data };
      await audit.append(input);
    },
  };
}
