import { ArsError } from '../util/errors.js';
import type { DeadLetterReason } from './dead-letter-reason.js';

/** A request got no reply within its timeout. */
export class BusTimeoutError extends ArsError {
  readonly code = 'ARS_BUS_TIMEOUT';

  constructor(
    readonly to: string,
    readonly correlationId: string,
    readonly timeoutMs: number,
  ) {
    super(
      `request ${correlationId} to '${to}' got no reply within ${timeoutMs} ms; check that '${to}' is consuming, or raise timeoutMs`,
    );
  }
}

/** A sender exceeded its token-bucket rate limit; retry after `retryAfterMs`. Nothing was sent. */
export class BusRateLimitError extends ArsError {
  readonly code = 'ARS_BUS_RATE_LIMITED';

  constructor(
    readonly agentId: string,
    readonly retryAfterMs: number,
  ) {
    super(
      `agent '${agentId}' exceeded its message rate limit; retry after ${retryAfterMs} ms or raise rateLimit.perSecond`,
    );
  }
}

/** A message was not sent: it went to the dead-letter stream with `reason`. Thrown by `request()`. */
export class BusRejectedError extends ArsError {
  readonly code = 'ARS_BUS_REJECTED';

  constructor(
    readonly messageId: string,
    readonly reason: DeadLetterReason,
    readonly detail: string,
  ) {
    super(`message ${messageId} was not sent (${reason}): ${detail}`);
  }
}

/** The bus was used wrongly (closed, no consumer for a requester, dead letter not replayable, ...). */
export class BusUsageError extends ArsError {
  readonly code = 'ARS_BUS_USAGE';
}
