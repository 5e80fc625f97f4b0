import { ArsError } from '../util/errors.js';

/** The pre-send policy hook denied a message; nothing was delivered. */
export class MessageDeniedError extends ArsError {
  readonly code = 'ARS_GATEWAY_POLICY_DENIED';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly reasons: readonly string[],
  ) {
    super(
      `policy denied the message from '${from}' to '${to}': ${reasons.join('; ') || 'no policy permits it (deny by default)'}`,
    );
  }
}

/** The gateway was used after close(). */
export class GatewayClosedError extends ArsError {
  readonly code = 'ARS_GATEWAY_CLOSED';
  constructor(readonly gatewayId: string) {
    super(`gateway '${gatewayId}' is closed; create a new one with createGateway()`);
  }
}

/**
 * The audit trail could not record a message an agent sent, so it was not sent: the gateway fails
 * closed, and every message that leaves is on the trail.
 */
export class MessageNotAuditedError extends ArsError {
  readonly code = 'ARS_GATEWAY_AUDIT_FAILED';
  constructor(
    readonly from: string,
    readonly to: string,
    cause: unknown,
  ) {
    super(
      `the message from '${from}' to '${to}' was not sent: the audit trail could not record it (${cause instanceof Error ? cause.message : String(cause)}); check the audit store's Redis and run 'ars audit verify'`,
      { cause },
    );
  }
}
