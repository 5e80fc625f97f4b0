import { ArsError } from '../util/errors.js';

/** The error a remote handler threw, as it crossed a process boundary (or was captured in-process). */
export interface SerializedError {
  readonly name: string;
  readonly code?: string | undefined;
  readonly message: string;
  /** Stable context fields of SDK errors (agentId, messageType, timeoutMs, ...), for rebuilding them. */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

/** An agent definition passed to defineAgent() is malformed (a handler without a schema, a bad type name). */
export class AgentDefinitionError extends ArsError {
  readonly code = 'ARS_SDK_BAD_DEFINITION';

  constructor(
    readonly agentType: string,
    readonly problem: string,
  ) {
    super(`agent definition '${agentType}' is invalid: ${problem}`);
  }
}

/** An agent id is not of the form `type/key`. */
export class InvalidAgentIdError extends ArsError {
  readonly code = 'ARS_SDK_BAD_AGENT_ID';

  constructor(readonly agentId: string) {
    super(
      `agent id '${agentId}' is invalid; use 'type/key' where type matches [a-z][a-z0-9-]* and key is non-empty without whitespace`,
    );
  }
}

/** No agent type of that name is registered with the runtime. */
export class UnknownAgentTypeError extends ArsError {
  readonly code = 'ARS_SDK_UNKNOWN_AGENT_TYPE';

  constructor(
    readonly agentType: string,
    readonly agentId: string,
  ) {
    super(
      `no agent type '${agentType}' is registered (message to '${agentId}'); register it with runtime.register() or check the spelling`,
    );
  }
}

/** The recipient's type has no handler for this message type. */
export class UnknownMessageTypeError extends ArsError {
  readonly code = 'ARS_SDK_UNKNOWN_MESSAGE_TYPE';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
    readonly known: readonly string[],
  ) {
    super(
      `agent '${agentId}' has no handler for message type '${messageType}'; it handles ${known.length ? known.map((k) => `'${k}'`).join(', ') : 'no messages'}`,
    );
  }
}

/** A payload (or a task, or a state) failed its zod schema at the boundary; nothing was delivered. */
export class InvalidMessageError extends ArsError {
  readonly code = 'ARS_SDK_INVALID_MESSAGE';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
    readonly problems: string,
  ) {
    super(`message '${messageType}' to '${agentId}' is invalid:\n${problems}`);
  }
}

/** A handler threw; the requester gets this, carrying the handler's error name, code and message. */
export class AgentHandlerError extends ArsError {
  readonly code = 'ARS_SDK_HANDLER_FAILED';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
    readonly remote: SerializedError,
    options?: { cause?: unknown },
  ) {
    super(
      `handler for '${messageType}' in agent '${agentId}' failed: ${remote.name}${remote.code ? ` [${remote.code}]` : ''}: ${remote.message}`,
      options,
    );
  }
}

/** A request got no answer within its timeout; the handler was cancelled. */
export class RequestTimeoutError extends ArsError {
  readonly code = 'ARS_SDK_REQUEST_TIMEOUT';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
    readonly timeoutMs: number,
  ) {
    super(
      `request '${messageType}' to '${agentId}' got no answer within ${timeoutMs} ms; the handler was cancelled (raise timeoutMs if it needs longer)`,
    );
  }
}

/** The requester (or the runtime shutting down) cancelled the delivery; `reason` says why. */
export class CancelledError extends ArsError {
  readonly code = 'ARS_SDK_CANCELLED';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
    readonly reason: string,
  ) {
    super(`'${messageType}' to '${agentId}' was cancelled: ${reason}`);
  }
}

/** The agent already holds a subscription to that topic. */
export class DuplicateSubscriptionError extends ArsError {
  readonly code = 'ARS_SDK_DUPLICATE_SUBSCRIPTION';

  constructor(
    readonly agentId: string,
    readonly topic: string,
  ) {
    super(
      `agent '${agentId}' is already subscribed to topic '${topic}'; unsubscribe first or keep the existing subscription`,
    );
  }
}

/** An agent requested itself: its own queue would never run the request, so it is refused. */
export class SelfRequestError extends ArsError {
  readonly code = 'ARS_SDK_SELF_REQUEST';

  constructor(
    readonly agentId: string,
    readonly messageType: string,
  ) {
    super(
      `agent '${agentId}' sent request '${messageType}' to itself; it would wait on its own queue forever — call the logic directly or use send()`,
    );
  }
}

/** The agent type has no run(task) function, or the runtime/agent is closed. */
export class AgentUnavailableError extends ArsError {
  readonly code = 'ARS_SDK_AGENT_UNAVAILABLE';

  constructor(
    readonly agentId: string,
    readonly reason: string,
  ) {
    super(`agent '${agentId}' is unavailable: ${reason}`);
  }
}

/** A state snapshot is malformed, for another agent type, or fails the type's state schema. */
export class InvalidStateError extends ArsError {
  readonly code = 'ARS_SDK_INVALID_STATE';

  constructor(
    readonly agentId: string,
    readonly problems: string,
  ) {
    super(`state for agent '${agentId}' is invalid:\n${problems}`);
  }
}
