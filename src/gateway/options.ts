import { z } from 'zod';
import { ConfigError, parseOrThrow } from '../config/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../sdk/index.js';
import { randomId } from '../util/ids.js';
import { GATEWAY_ID } from './protocol.js';

export const DEFAULT_GATEWAY_OPTIONS = {
  /** How long directory answers (type info, live gateways, placements) are reused. */
  cacheMs: 1_000,
  /** How often a gateway renews its liveness and advertises its load. */
  heartbeatIntervalMs: 1_000,
  /** A gateway whose last heartbeat is older than this is dead: its agents are placed elsewhere. */
  heartbeatTtlMs: 5_000,
  /** An agent instance idle this long is hibernated (state checkpointed, instance dropped); 0 = never. */
  idleTimeoutMs: 0,
  /** Agent instances this gateway is willing to keep active (advertised to operators). */
  capacity: 10_000,
  requestTimeoutMs: DEFAULT_REQUEST_TIMEOUT_MS,
} as const;

const schema = z.strictObject({
  /** This gateway's id (the bus recipient `gw.<id>`). @default a random id */
  id: z.string().regex(GATEWAY_ID, 'id is 1-101 letters, digits, _ . - (e.g. the host id)').optional(),
  /** @default DEFAULT_GATEWAY_OPTIONS.cacheMs */
  cacheMs: z.int().min(0).max(60_000).default(DEFAULT_GATEWAY_OPTIONS.cacheMs),
  /** @default DEFAULT_GATEWAY_OPTIONS.heartbeatIntervalMs */
  heartbeatIntervalMs: z.int().min(50).max(60_000).default(DEFAULT_GATEWAY_OPTIONS.heartbeatIntervalMs),
  /** @default DEFAULT_GATEWAY_OPTIONS.heartbeatTtlMs */
  heartbeatTtlMs: z.int().min(100).max(600_000).default(DEFAULT_GATEWAY_OPTIONS.heartbeatTtlMs),
  /** @default DEFAULT_GATEWAY_OPTIONS.idleTimeoutMs */
  idleTimeoutMs: z
    .int()
    .min(0)
    .max(7 * 24 * 3_600_000)
    .default(DEFAULT_GATEWAY_OPTIONS.idleTimeoutMs),
  /** @default DEFAULT_GATEWAY_OPTIONS.capacity */
  capacity: z.int().min(1).max(10_000_000).default(DEFAULT_GATEWAY_OPTIONS.capacity),
  /** @default DEFAULT_GATEWAY_OPTIONS.requestTimeoutMs */
  requestTimeoutMs: z
    .int()
    .min(1)
    .max(24 * 3_600_000)
    .default(DEFAULT_GATEWAY_OPTIONS.requestTimeoutMs),
});

export type GatewayOptionsInput = z.input<typeof schema>;
export type GatewayOptions = z.output<typeof schema> & { readonly id: string };

export function compileGatewayOptions(input: GatewayOptionsInput = {}): GatewayOptions {
  const parsed = parseOrThrow(schema, input, 'gateway options');
  if (parsed.heartbeatTtlMs <= parsed.heartbeatIntervalMs)
    throw new ConfigError('gateway options', [
      { path: 'heartbeatTtlMs', message: 'must be longer than heartbeatIntervalMs (e.g. 5 times as long)' },
    ]);
  return { ...parsed, id: parsed.id ?? randomId('gw') };
}
