import { z } from 'zod';
import { toProblems } from '../config/errors.js';
import type { JsonObject } from './canonical.js';
import { AuditEventError } from './errors.js';

/** Every event kind of the design. */
export const AUDIT_EVENT_KINDS = [
  'agent.created',
  'agent.started',
  'agent.suspended',
  'agent.resumed',
  'agent.terminated',
  'message.sent',
  'message.delivered',
  'message.dropped',
  'policy.decision',
  'resource.allocated',
  'security.event',
] as const;
export type AuditEventKind = (typeof AUDIT_EVENT_KINDS)[number];

const id = z.string().min(1);
const limits = {
  memoryMb: z.number().optional(),
  cpus: z.number().optional(),
  timeoutMs: z.number().optional(),
};

/** The fields each kind must carry in `data` (more are allowed; every field is hashed and signed). */
export const AUDIT_DATA_SCHEMAS: Readonly<Record<AuditEventKind, z.ZodType>> = {
  'agent.created': z.looseObject({ name: id, tier: z.string().optional(), mode: z.string().optional() }),
  'agent.started': z.looseObject({}),
  'agent.suspended': z.looseObject({ reason: id }),
  'agent.resumed': z.looseObject({ reason: z.string().optional() }),
  'agent.terminated': z.looseObject({ reason: id, exitCode: z.number().optional() }),
  'message.sent': z.looseObject({
    messageId: id,
    sender: id,
    recipient: z.string().optional(),
    topic: z.string().optional(),
    size: z.number().optional(),
  }),
  'message.delivered': z.looseObject({ messageId: id, recipient: id }),
  'message.dropped': z.looseObject({ messageId: id, reason: id }),
  'policy.decision': z.looseObject({
    action: id,
    principal: id,
    resource: id,
    decision: z.enum(['allow', 'deny']),
    reasons: z.array(z.string()),
    errors: z.array(z.string()).default([]),
  }),
  'resource.allocated': z.looseObject({ ...limits, pool: z.string().optional() }),
  'security.event': z.looseObject({
    type: id,
    severity: z.enum(['info', 'warning', 'critical']),
    message: z.string().optional(),
  }),
};

/** Kinds that are about one agent and so must name it. */
const AGENT_KINDS: ReadonlySet<AuditEventKind> = new Set([
  'agent.created',
  'agent.started',
  'agent.suspended',
  'agent.resumed',
  'agent.terminated',
  'resource.allocated',
]);

/** What a caller gives to `append`. */
export interface AuditEventInput {
  readonly kind: AuditEventKind;
  /** The agent the event is about (required for agent.* and resource.allocated). */
  readonly agentId?: string;
  /** Who caused it: an operator, an agent, a worker. */
  readonly actor?: string;
  readonly data?: Record<string, unknown>;
  /** Event time in ms since the epoch; defaults to now. */
  readonly ts?: number;
}

/** A validated event. */
export interface AuditEvent {
  readonly kind: AuditEventKind;
  readonly agentId: string | null;
  readonly actor: string | null;
  readonly data: JsonObject;
  readonly ts: number;
}

/** Validates an event: known kind, the kind's required data fields, agentId where needed. */
export function compileAuditEvent(input: AuditEventInput, now: number): AuditEvent {
  const kind = input.kind;
  if (!(AUDIT_EVENT_KINDS as readonly string[]).includes(kind)) {
    throw new AuditEventError(String(kind), `unknown kind; use one of ${AUDIT_EVENT_KINDS.join(', ')}`);
  }
  if (AGENT_KINDS.has(kind) && !input.agentId)
    throw new AuditEventError(kind, 'agentId is required for this kind');
  const parsed = AUDIT_DATA_SCHEMAS[kind].safeParse(input.data ?? {}, { reportInput: true });
  if (!parsed.success) {
    throw new AuditEventError(
      kind,
      toProblems(parsed.error.issues)
        .map((p) => `data.${p.path}: ${p.message}`)
        .join('; '),
    );
  }
  const ts = input.ts ?? now;
  if (!Number.isSafeInteger(ts) || ts < 0)
    throw new AuditEventError(kind, `ts must be ms since the epoch, got ${String(ts)}`);
  return {
    kind,
    agentId: input.agentId ?? null,
    actor: input.actor ?? null,
    data: parsed.data as JsonObject,
    ts,
  };
}
