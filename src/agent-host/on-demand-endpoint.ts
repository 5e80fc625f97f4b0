import type {
  AgentEndpoint,
  AgentProcessExit,
  Delivery,
  EndpointBinding,
  StateSnapshot,
} from '../sdk/index.js';

/** An endpoint process that can exit on its own (a StdioAgentConnection). */
export interface ProcessEndpoint extends AgentEndpoint {
  whenExited(): Promise<void>;
  /** Why the process ended, once it has. */
  readonly exitError?: Error | undefined;
}

export interface OnDemandEndpointInput {
  readonly agentType: string;
  readonly messageTypes: readonly string[];
  /** Starts the agent process (e.g. a hardened container); called on the first message after a stop. */
  readonly start: () => Promise<ProcessEndpoint>;
  /** Stop the process this long after its last instance was deactivated. @default 0 (at once) */
  readonly stopAfterMs?: number;
}

/**
 * An agent type whose process (its sandbox) runs only while some instance of the type is active:
 * started on the first message, stopped when the last instance was deactivated (hibernated, its
 * state checkpointed by the runtime) — the next message starts a fresh sandbox, which restores the
 * instance from its checkpoint. A process that dies is started again on the next message.
 */
export class OnDemandEndpoint implements AgentEndpoint {
  readonly agentType: string;
  readonly messageTypes: readonly string[];
  private binding: EndpointBinding | undefined;
  private current: Promise<ProcessEndpoint> | undefined;
  private readonly active = new Set<string>();
  private stopTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private closed = false;
  private starts = 0;

  constructor(private readonly input: OnDemandEndpointInput) {
    this.agentType = input.agentType;
    this.messageTypes = input.messageTypes;
  }

  /** How many times the process was started. */
  get startCount(): number {
    return this.starts;
  }

  /** Whether the process is running (or starting) now. */
  get running(): boolean {
    return this.current !== undefined;
  }

  bind(binding: EndpointBinding): void {
    this.binding = binding;
  }

  deliver(
    delivery: Delivery,
    options: { reply: boolean; signal?: AbortSignal | undefined },
  ): Promise<unknown> {
    this.active.add(delivery.to);
    return this.endpoint().then((e) => e.deliver(delivery, options));
  }

  run(id: string, agentId: string, task: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.endpoint().then((e) => e.run(id, agentId, task, signal));
  }

  async exportState(agentId: string): Promise<StateSnapshot | undefined> {
    // Not running: no instance is live; the runtime falls back to the checkpoint.
    if (!this.current || !this.active.has(agentId)) return undefined;
    return (await this.current).exportState(agentId);
  }

  async importState(agentId: string, snapshot: StateSnapshot): Promise<boolean> {
    // The snapshot is validated by the agent's own code, so the process must run to check it.
    const endpoint = await this.endpoint();
    const applied = await endpoint.importState(agentId, snapshot);
    if (!this.active.has(agentId)) this.scheduleStop();
    return applied;
  }

  async deactivate(agentId: string): Promise<StateSnapshot | undefined> {
    if (!this.current) return undefined;
    const snapshot = await (await this.current).deactivate(agentId);
    this.active.delete(agentId);
    this.scheduleStop();
    return snapshot;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.stopTimer);
    await this.stop();
  }

  private endpoint(): Promise<ProcessEndpoint> {
    clearTimeout(this.stopTimer);
    if (this.closed) return Promise.reject(new Error(`agent type '${this.agentType}' is closed`));
    if (this.current) return this.current;
    const started = (this.stopping ?? Promise.resolve()).then(async () => {
      const endpoint = await this.input.start();
      this.starts += 1;
      if (this.binding) endpoint.bind(this.binding);
      void endpoint.whenExited().then(() => {
        if (this.current !== started) return; // stopped on purpose
        this.current = undefined;
        const exit: AgentProcessExit = {
          agentType: this.agentType,
          agentIds: [...this.active],
          reason: endpoint.exitError?.message ?? 'the agent process exited',
        };
        this.active.clear();
        // A crash: the runtime hears of it; the next message starts a new process.
        if (!this.closed) this.binding?.onProcessExit?.(exit);
      });
      return endpoint;
    });
    this.current = started;
    started.catch(() => {
      if (this.current === started) this.current = undefined;
    });
    return started;
  }

  private scheduleStop(): void {
    if (this.active.size > 0 || !this.current || this.closed) return;
    clearTimeout(this.stopTimer);
    this.stopTimer = setTimeout(() => void this.stop(), this.input.stopAfterMs ?? 0);
    this.stopTimer.unref();
  }

  private async stop(): Promise<void> {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    this.active.clear();
    const stopping = current.then(
      (e) => e.close(),
      () => undefined,
    );
    this.stopping = stopping;
    await stopping;
    if (this.stopping === stopping) this.stopping = undefined;
  }
}
