import { z } from 'zod';
import { serializedErrorSchema } from '../sdk/index.js';

/** Protocol versions this implementation speaks (docs/stdio-protocol.md). */
export const PROTOCOL_VERSIONS = [1] as const;
export const PROTOCOL_VERSION = 1;

/** Largest frame body either side accepts unless negotiated lower. @default 1 MiB */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Absolute ceiling for a negotiated frame size (16 MiB). */
export const MAX_FRAME_BYTES_LIMIT = 16 * 1024 * 1024;

const id = z.string().min(1).max(128);
const agentIdField = z.string().min(3).max(300);
const name = z.string().min(1).max(200);
const snapshot = z.object({ v: z.literal(1), agentType: name, state: z.unknown() });

/** Frames the agent (in the sandbox) sends to the host's gateway. */
export const agentFrameSchema = z.discriminatedUnion('k', [
  z.object({
    k: z.literal('hello'),
    versions: z.array(z.number().int().positive()).min(1).max(32),
    agent: z.object({ type: name, messages: z.array(name).max(1000), run: z.boolean() }),
    maxFrameBytes: z.number().int().min(1024).max(MAX_FRAME_BYTES_LIMIT),
    impl: z.string().max(100).optional(),
  }),
  z.object({ k: z.literal('result'), re: id, value: z.unknown().optional() }),
  z.object({ k: z.literal('error'), re: id.optional(), error: serializedErrorSchema }),
  z.object({ k: z.literal('fault'), ref: id, to: agentIdField, type: name, error: serializedErrorSchema }),
  z.object({
    k: z.literal('send'),
    id,
    from: agentIdField,
    to: agentIdField,
    type: name,
    payload: z.unknown(),
  }),
  z.object({
    k: z.literal('publish'),
    id,
    from: agentIdField,
    topic: name,
    type: name,
    payload: z.unknown(),
  }),
  z.object({
    k: z.literal('request'),
    id,
    from: agentIdField,
    to: agentIdField,
    type: name,
    payload: z.unknown(),
    timeoutMs: z
      .number()
      .int()
      .positive()
      .max(24 * 3_600_000),
  }),
  z.object({ k: z.literal('broadcast'), id, from: agentIdField, type: name, payload: z.unknown() }),
  z.object({ k: z.literal('subscribe'), id, agentId: agentIdField, topic: name, receiveOwn: z.boolean() }),
  z.object({ k: z.literal('unsubscribe'), id, agentId: agentIdField, topic: name }),
  z.object({ k: z.literal('checkpoint'), id, agentId: agentIdField, snapshot }),
  z.object({ k: z.literal('load'), id, agentId: agentIdField }),
  z.object({ k: z.literal('cancel'), ref: id }),
  z.object({ k: z.literal('pong'), re: id }),
  z.object({ k: z.literal('bye') }),
]);

/** Frames the host's gateway sends to the agent. */
export const hostFrameSchema = z.discriminatedUnion('k', [
  z.object({
    k: z.literal('welcome'),
    version: z.number().int().positive(),
    maxFrameBytes: z.number().int().min(1024).max(MAX_FRAME_BYTES_LIMIT),
    heartbeatMs: z.number().int().positive(),
  }),
  z.object({
    k: z.literal('deliver'),
    id,
    to: agentIdField,
    type: name,
    payload: z.unknown(),
    from: agentIdField.optional(),
    topic: name.optional(),
    reply: z.boolean(),
  }),
  z.object({ k: z.literal('run'), id, to: agentIdField, task: z.unknown() }),
  z.object({ k: z.literal('cancel'), ref: id, reason: serializedErrorSchema }),
  z.object({ k: z.literal('state.export'), id, agentId: agentIdField }),
  z.object({ k: z.literal('state.import'), id, agentId: agentIdField, snapshot }),
  z.object({ k: z.literal('deactivate'), id, agentId: agentIdField }),
  z.object({ k: z.literal('result'), re: id, value: z.unknown().optional() }),
  z.object({ k: z.literal('error'), re: id.optional(), error: serializedErrorSchema }),
  z.object({ k: z.literal('ping'), id }),
  z.object({ k: z.literal('shutdown'), reason: z.string().max(1000).optional() }),
]);

export type AgentFrame = z.infer<typeof agentFrameSchema>;
export type HostFrame = z.infer<typeof hostFrameSchema>;

/** Error codes of protocol-level `error` frames (not about a handler). */
export const PROTOCOL_ERROR_CODES = {
  badFrame: 'ARS_PROTO_BAD_FRAME',
  frameTooLarge: 'ARS_PROTO_FRAME_TOO_LARGE',
  unsupportedVersion: 'ARS_PROTO_UNSUPPORTED_VERSION',
  unexpected: 'ARS_PROTO_UNEXPECTED_FRAME',
  forbidden: 'ARS_PROTO_FORBIDDEN',
} as const;
