import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './context.js';
import { MemoryStateStore, type StateStore } from './state-store.js';

/** Called when a handler of a message that expected no reply fails. */
export type HandlerErrorListener = (info: { agentId: string; messageType: string; error: unknown }) => void;

const schema = z
  .object({
    /** Default request timeout. @default DEFAULT_REQUEST_TIMEOUT_MS (30 000) */
    requestTimeoutMs: z
      .number()
      .int()
      .positive()
      .max(24 * 3_600_000)
      .default(DEFAULT_REQUEST_TIMEOUT_MS),
    /** @default silentLogger */
    logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null && 'warn' in v).optional(),
    /** Checkpoints between activations. @default a new MemoryStateStore */
    stateStore: z
      .custom<StateStore>((v) => typeof v === 'object' && v !== null && 'get' in v && 'put' in v)
      .optional(),
    /** @default logs a warning */
    onHandlerError: z.custom<HandlerErrorListener>((v) => typeof v === 'function').optional(),
  })
  .strict();

export type RuntimeOptionsInput = z.input<typeof schema>;

export interface RuntimeOptions {
  readonly requestTimeoutMs: number;
  readonly logger: Logger;
  readonly stateStore: StateStore;
  readonly onHandlerError: HandlerErrorListener;
}

/** Validates runtime options and applies the defaults. */
export function compileRuntimeOptions(input: RuntimeOptionsInput = {}): RuntimeOptions {
  const parsed = parseOrThrow(schema, input, 'agent runtime options');
  const logger = parsed.logger ?? silentLogger;
  return {
    requestTimeoutMs: parsed.requestTimeoutMs,
    logger,
    stateStore: parsed.stateStore ?? new MemoryStateStore(),
    onHandlerError:
      parsed.onHandlerError ??
      (({ agentId, messageType, error }) =>
        logger.warn({ agentId, messageType, err: error }, 'agent handler failed on a message without reply')),
  };
}
