import { z } from 'zod';
import { ArsError } from '../util/errors.js';
import {
  AgentHandlerError,
  AgentUnavailableError,
  CancelledError,
  DuplicateSubscriptionError,
  InvalidAgentIdError,
  InvalidMessageError,
  InvalidStateError,
  RequestTimeoutError,
  SelfRequestError,
  UnknownAgentTypeError,
  UnknownMessageTypeError,
  type SerializedError,
} from './errors.js';

/** The wire form of an error (the stdio protocol's `error` object). */
export const serializedErrorSchema = z.object({
  name: z.string().min(1).max(200),
  code: z.string().max(200).optional(),
  message: z.string().max(64 * 1024),
  details: z.record(z.string(), z.unknown()).optional(),
});

const MAX_MESSAGE = 8 * 1024;

/** Any thrown value → its wire form; SDK errors keep their context fields so they can be rebuilt. */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const details: Record<string, unknown> = {};
    if (error instanceof ArsError) {
      for (const [key, value] of Object.entries(error)) {
        if (key === 'code' || key === 'name' || key === 'message' || key === 'stack' || key === 'cause')
          continue;
        if (value === undefined || typeof value === 'function') continue;
        details[key] = value;
      }
    }
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: error.message.slice(0, MAX_MESSAGE),
      ...(Object.keys(details).length ? { details } : {}),
    };
  }
  return { name: 'NonError', message: String(error).slice(0, MAX_MESSAGE) };
}

const str = (
  details: Readonly<Record<string, unknown>> | undefined,
  key: string,
  fallback: string,
): string => {
  const value = details?.[key];
  return typeof value === 'string' ? value : fallback;
};

/**
 * Rebuilds an SDK error of the runtime (not a handler's own error) from its wire form, so that a
 * caller can match `instanceof`/`code` the same way whichever runtime the agent ran in. Unknown
 * codes become an AgentHandlerError carrying the remote name, code and message.
 */
export function deserializeRuntimeError(
  wire: SerializedError,
  fallback: { agentId: string; messageType: string },
): Error {
  const d = wire.details;
  const agentId = str(d, 'agentId', fallback.agentId);
  const messageType = str(d, 'messageType', fallback.messageType);
  switch (wire.code) {
    case 'ARS_SDK_UNKNOWN_MESSAGE_TYPE': {
      const known = Array.isArray(d?.known) ? d.known.filter((k): k is string => typeof k === 'string') : [];
      return new UnknownMessageTypeError(agentId, messageType, known);
    }
    case 'ARS_SDK_INVALID_MESSAGE':
      return new InvalidMessageError(agentId, messageType, str(d, 'problems', wire.message));
    case 'ARS_SDK_UNKNOWN_AGENT_TYPE':
      return new UnknownAgentTypeError(str(d, 'agentType', ''), agentId);
    case 'ARS_SDK_BAD_AGENT_ID':
      return new InvalidAgentIdError(agentId);
    case 'ARS_SDK_REQUEST_TIMEOUT':
      return new RequestTimeoutError(
        agentId,
        messageType,
        typeof d?.timeoutMs === 'number' ? d.timeoutMs : 0,
      );
    case 'ARS_SDK_CANCELLED':
      return new CancelledError(agentId, messageType, str(d, 'reason', wire.message));
    case 'ARS_SDK_DUPLICATE_SUBSCRIPTION':
      return new DuplicateSubscriptionError(agentId, str(d, 'topic', ''));
    case 'ARS_SDK_SELF_REQUEST':
      return new SelfRequestError(agentId, messageType);
    case 'ARS_SDK_AGENT_UNAVAILABLE':
      return new AgentUnavailableError(agentId, str(d, 'reason', wire.message));
    case 'ARS_SDK_INVALID_STATE':
      return new InvalidStateError(agentId, str(d, 'problems', wire.message));
    case 'ARS_SDK_HANDLER_FAILED': {
      const remote = d?.remote;
      const parsed = serializedErrorSchema.safeParse(remote);
      return new AgentHandlerError(agentId, messageType, parsed.success ? parsed.data : wire);
    }
    default:
      return new AgentHandlerError(agentId, messageType, wire);
  }
}

/** A thrown value as an Error (handlers may throw anything). */
export function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(`non-Error thrown: ${JSON.stringify(error)}`);
}
