/** What a handler can do: talk to other agents, manage its subscriptions and its state. */
export interface AgentContext<S = unknown> {
  /** This instance's id, `type/key`. */
  readonly agentId: string;
  readonly agentType: string;
  readonly agentKey: string;
  /** The sender of the message being handled (absent for runtime-originated messages and run()). */
  readonly sender: string | undefined;
  /** The topic the message was published on, if it came from a publish. */
  readonly topic: string | undefined;
  /** Aborted when the requester cancels, the request times out or the runtime shuts down. */
  readonly signal: AbortSignal;
  /** Direct message; resolves once the recipient accepted it (validated and queued), not handled. */
  send(to: string, type: string, payload: unknown): Promise<void>;
  /** Publish on a topic; resolves with the agent ids it was delivered to (none is not an error). */
  publish(topic: string, type: string, payload: unknown): Promise<PublishResult>;
  /** Request/response; rejects with the handler's error, RequestTimeoutError or CancelledError. */
  request<R = unknown>(to: string, type: string, payload: unknown, options?: RequestOptions): Promise<R>;
  /** Deliver to every active agent (except this one) whose type handles `type`; resolves with the count. */
  broadcast(type: string, payload: unknown): Promise<number>;
  /** Subscribe this instance to a topic (exact match); DuplicateSubscriptionError if already subscribed. */
  subscribe(topic: string, options?: SubscribeOptions): Promise<void>;
  /** Remove this instance's subscription; resolves false if there was none. */
  unsubscribe(topic: string): Promise<boolean>;
  readonly state: AgentStateHandle<S>;
}

export interface AgentStateHandle<S> {
  get(): S;
  /** Replaces the state (validated with the type's state schema). */
  set(next: S): void;
  /** Checkpoints the current state to the runtime's state store (what a re-activation restores). */
  save(): Promise<void>;
}

export interface RequestOptions {
  /** @default DEFAULT_REQUEST_TIMEOUT_MS (30 000) */
  readonly timeoutMs?: number;
  /** Cancels the request (and the remote handler) when aborted. */
  readonly signal?: AbortSignal;
}

export interface SubscribeOptions {
  /** Also receive this agent's own publishes on the topic. @default false */
  readonly receiveOwn?: boolean;
}

export interface PublishResult {
  /** Agent ids the message was accepted by (validated and queued). */
  readonly deliveredTo: readonly string[];
  /** Subscribers that refused it (no handler for the type, invalid payload), with the error code. */
  readonly rejected: readonly { readonly agentId: string; readonly code: string }[];
}

/** A portable snapshot of one agent's state: moves between runtimes and processes as JSON. */
export interface StateSnapshot {
  readonly v: 1;
  readonly agentType: string;
  readonly state: unknown;
}

/** @default 30 000 ms */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
