import { z } from 'zod';
import { serializedErrorSchema } from '../sdk/index.js';

/** A gateway id: the bus recipient `gw.<id>` of its inbox. */
export const GATEWAY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$/;
const gatewayId = z.string().regex(GATEWAY_ID, 'gateway ids are 1-101 letters, digits, _ . -');
const rid = z.string().min(1).max(64);
const agentId = z.string().min(3).max(300);
const messageType = z.string().min(1).max(200);

/**
 * The frames gateways exchange, as the JSON payload of a signed, encrypted bus message. Requests
 * carry `rid` (unique per requesting gateway) and `replyTo` (the requesting gateway's id); the
 * owner answers with `accepted` (a delivery without reply was queued), `ok` or `fail`.
 */
export const gatewayFrameSchema = z.discriminatedUnion('op', [
  z.strictObject({
    op: z.literal('deliver'),
    rid,
    replyTo: gatewayId,
    to: agentId,
    type: messageType,
    payload: z.unknown().optional(),
    from: agentId.optional(),
    topic: z.string().min(1).max(512).optional(),
    reply: z.boolean(),
  }),
  z.strictObject({ op: z.literal('run'), rid, replyTo: gatewayId, agentId, task: z.unknown().optional() }),
  z.strictObject({ op: z.literal('cancel'), rid, replyTo: gatewayId, reason: serializedErrorSchema }),
  z.strictObject({ op: z.literal('export'), rid, replyTo: gatewayId, agentId }),
  z.strictObject({ op: z.literal('import'), rid, replyTo: gatewayId, agentId, snapshot: z.unknown() }),
  z.strictObject({ op: z.literal('deactivate'), rid, replyTo: gatewayId, agentId }),
  z.strictObject({ op: z.literal('accepted'), rid }),
  z.strictObject({ op: z.literal('ok'), rid, value: z.unknown().optional() }),
  z.strictObject({ op: z.literal('fail'), rid, error: serializedErrorSchema }),
]);

export type GatewayFrame = z.output<typeof gatewayFrameSchema>;
export type GatewayRequestFrame = Extract<
  GatewayFrame,
  { op: 'deliver' | 'run' | 'export' | 'import' | 'deactivate' }
>;
export type GatewayAnswerFrame = Extract<GatewayFrame, { op: 'accepted' | 'ok' | 'fail' }>;
