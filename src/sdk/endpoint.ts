import { toError } from './serialized-error.js';
import type { StateSnapshot } from './context.js';
import type { AgentDefinition } from './define-agent.js';
import { AgentExecutor } from './executor.js';
import type { AgentPort, Delivery } from './port.js';

/**
 * An endpoint's agent process (its sandbox) died while the runtime used it: the instances it held
 * are gone, and each falls back to its last checkpoint when its next message starts a new process.
 */
export interface AgentProcessExit {
  readonly agentType: string;
  /** The agent ids that were active in the process. */
  readonly agentIds: readonly string[];
  /** What ended it (exit code or signal, the tail of its stderr), for people and the audit trail. */
  readonly reason: string;
}

/** What a runtime gives an endpoint when it registers it. */
export interface EndpointBinding {
  readonly port: AgentPort;
  /** A handler of a message that expected no reply (send, publish, broadcast) failed. */
  onHandlerError(agentId: string, messageType: string, error: unknown): void;
  /** The endpoint's process died and will be started again (endpoints that restart it call this). */
  onProcessExit?(exit: AgentProcessExit): void;
}

/**
 * One agent type as a runtime sees it, wherever its code runs: in this process (LocalEndpoint) or in
 * another process or sandbox over the stdio protocol (StdioAgentConnection in src/agent-host). A
 * bus-backed runtime routes to endpoints the same way, from inbox streams instead of direct calls.
 */
export interface AgentEndpoint {
  readonly agentType: string;
  readonly messageTypes: readonly string[];
  bind(binding: EndpointBinding): void;
  /**
   * Hands a message to the agent. With `reply` the promise settles with the handler's result or
   * error; without it, once the agent accepted (validated and queued) it. Aborting `signal` cancels
   * the delivery (queued: dropped; running: ctx.signal aborts with the signal's reason).
   */
  deliver(
    delivery: Delivery,
    options: { reply: boolean; signal?: AbortSignal | undefined },
  ): Promise<unknown>;
  run(id: string, agentId: string, task: unknown, signal?: AbortSignal): Promise<unknown>;
  exportState(agentId: string): Promise<StateSnapshot | undefined>;
  /** Validates a snapshot and applies it if the instance is active; resolves whether it was active. */
  importState(agentId: string, snapshot: StateSnapshot): Promise<boolean>;
  deactivate(agentId: string): Promise<StateSnapshot | undefined>;
  close(): Promise<void>;
}

const noBinding = (): never => {
  throw new Error('endpoint used before runtime.register() bound it');
};

/** An agent type run by direct calls in this process: trusted code, the fastest transport. */
export class LocalEndpoint implements AgentEndpoint {
  private executor: AgentExecutor | undefined;
  private binding: EndpointBinding | undefined;

  constructor(readonly definition: AgentDefinition) {}

  get agentType(): string {
    return this.definition.type;
  }

  get messageTypes(): readonly string[] {
    return this.definition.messageTypes;
  }

  bind(binding: EndpointBinding): void {
    this.binding = binding;
    this.executor = new AgentExecutor(this.definition, binding.port);
  }

  deliver(
    delivery: Delivery,
    options: { reply: boolean; signal?: AbortSignal | undefined },
  ): Promise<unknown> {
    const executor = this.executor ?? noBinding();
    let accepted;
    try {
      accepted = executor.accept(delivery);
    } catch (error) {
      return Promise.reject(toError(error));
    }
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void => void executor.cancel(delivery.id, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const detach = (): void => signal.removeEventListener('abort', onAbort);
      accepted.result.then(detach, detach);
    }
    if (options.reply) return accepted.result;
    const binding = this.binding ?? noBinding();
    accepted.result.catch((error: unknown) => binding.onHandlerError(delivery.to, delivery.type, error));
    return Promise.resolve(undefined);
  }

  run(id: string, agentId: string, task: unknown, signal?: AbortSignal): Promise<unknown> {
    const executor = this.executor ?? noBinding();
    let accepted;
    try {
      accepted = executor.run(id, agentId, task);
    } catch (error) {
      return Promise.reject(toError(error));
    }
    if (signal) {
      const onAbort = (): void => void executor.cancel(id, signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      const detach = (): void => signal.removeEventListener('abort', onAbort);
      accepted.result.then(detach, detach);
    }
    return accepted.result;
  }

  exportState(agentId: string): Promise<StateSnapshot | undefined> {
    return (this.executor ?? noBinding()).exportState(agentId);
  }

  importState(agentId: string, snapshot: StateSnapshot): Promise<boolean> {
    const executor = this.executor ?? noBinding();
    try {
      executor.checkSnapshot(agentId, snapshot);
    } catch (error) {
      return Promise.reject(toError(error));
    }
    return executor.importState(agentId, snapshot);
  }

  deactivate(agentId: string): Promise<StateSnapshot | undefined> {
    return (this.executor ?? noBinding()).deactivate(agentId);
  }

  close(): Promise<void> {
    this.executor?.close();
    return Promise.resolve();
  }
}
