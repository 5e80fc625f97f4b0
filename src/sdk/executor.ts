import { toProblems } from '../config/errors.js';
import type { z } from 'zod';
import { parseAgentId } from './agent-id.js';
import {
  DEFAULT_REQUEST_TIMEOUT_MS,
  type AgentContext,
  type AgentStateHandle,
  type StateSnapshot,
} from './context.js';
import type { AgentDefinition } from './define-agent.js';
import {
  AgentHandlerError,
  AgentUnavailableError,
  CancelledError,
  InvalidMessageError,
  InvalidStateError,
  SelfRequestError,
  UnknownMessageTypeError,
} from './errors.js';
import { Mailbox, type Job } from './mailbox.js';
import type { AgentPort, Delivery } from './port.js';

const formatProblems = (error: z.ZodError): string =>
  toProblems(error.issues)
    .map((p) => `  - ${p.path || '(top level)'}: ${p.message}`)
    .join('\n');

interface Instance {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  state: unknown;
  activated: boolean;
  readonly mailbox: Mailbox;
  readonly ephemeral: boolean;
}

interface JobEntry {
  readonly job: Job;
  readonly instance: Instance;
  readonly messageType: string;
  controller: AbortController | undefined;
  readonly reject: (error: unknown) => void;
}

/** The job's AbortSignal, made on first use (or on cancel). */
const signalOf = (entry: JobEntry) => (): AbortSignal => (entry.controller ??= new AbortController()).signal;

/** A delivery accepted into an instance's queue; `result` settles when its handler has run. */
export interface Accepted {
  readonly result: Promise<unknown>;
}

/**
 * Hosts one agent type's instances wherever the code runs (the in-process runtime, or the agent
 * host inside a sandbox): lazy activation per agent id (restore the last checkpoint, then onStart),
 * validation at the boundary, one handler at a time per instance, cancellation through ctx.signal.
 * A handler's exception settles `result` with AgentHandlerError (the thrown value as `cause`).
 */
export class AgentExecutor {
  private readonly instances = new Map<string, Instance>();
  private readonly jobs = new Map<string, JobEntry>();
  private closed = false;

  constructor(
    readonly definition: AgentDefinition,
    private readonly port: AgentPort,
  ) {}

  get activeCount(): number {
    return this.instances.size;
  }

  isActive(agentId: string): boolean {
    return this.instances.has(agentId);
  }

  activeIds(): IterableIterator<string> {
    return this.instances.keys();
  }

  /** Validates and queues a delivery; throws (nothing queued) on an unknown type or a bad payload. */
  accept(delivery: Delivery): Accepted {
    const handler = this.definition.handler(delivery.type);
    if (!handler) throw new UnknownMessageTypeError(delivery.to, delivery.type, this.definition.messageTypes);
    const parsed = this.definition.parseMessage(delivery.type, delivery.payload);
    if (!parsed?.success) {
      throw new InvalidMessageError(
        delivery.to,
        delivery.type,
        parsed ? formatProblems(parsed.error) : 'no schema',
      );
    }
    const instance = this.instance(delivery.to, false);
    const message = parsed.data;
    return this.enqueue(instance, delivery.id, delivery.type, async (signal) => {
      const ctx = this.context(instance, signal, delivery.from, delivery.topic);
      try {
        return await handler(message, ctx);
      } catch (error) {
        throw this.handlerFailure(instance.id, delivery.type, error, signal);
      } finally {
        // Before the answer: a request answered is a state saved (a failed save fails the request).
        if (this.definition.checkpoint === 'after-each-message')
          await this.port.checkpoint(instance.id, this.snapshot(instance));
      }
    });
  }

  /** Ephemeral run: a fresh instance `type/key`, run(task), then the instance is discarded. */
  run(id: string, agentId: string, task: unknown): Accepted {
    const run = this.definition.run;
    if (!run)
      throw new AgentUnavailableError(
        agentId,
        `agent type '${this.definition.type}' has no run(task) function`,
      );
    const parsed = this.definition.parseTask(task);
    if (!parsed.success) throw new InvalidMessageError(agentId, 'run', formatProblems(parsed.error));
    const instance = this.instance(agentId, true);
    const accepted = this.enqueue(instance, id, 'run', async (signal) => {
      try {
        return await run(parsed.data, this.context(instance, signal, undefined, undefined));
      } catch (error) {
        throw this.handlerFailure(instance.id, 'run', error, signal);
      }
    });
    void accepted.result.then(
      () => this.instances.delete(agentId),
      () => this.instances.delete(agentId),
    );
    return accepted;
  }

  /** Aborts a running delivery's signal, or drops it from the queue; false if unknown. */
  cancel(deliveryId: string, reason: unknown): boolean {
    const entry = this.jobs.get(deliveryId);
    if (!entry) return false;
    const error =
      reason instanceof Error
        ? reason
        : new CancelledError(entry.instance.id, entry.messageType, String(reason));
    if (!entry.job.started && entry.instance.mailbox.remove(deliveryId)) {
      // The job never runs: settle it here.
      this.jobs.delete(deliveryId);
      entry.reject(error);
      return true;
    }
    (entry.controller ??= new AbortController()).abort(error);
    return true;
  }

  /** A snapshot of an active instance's state, taken between handlers; undefined if not active. */
  async exportState(agentId: string): Promise<StateSnapshot | undefined> {
    const instance = this.instances.get(agentId);
    if (!instance) return undefined;
    const accepted = this.enqueue(instance, `export:${agentId}:${Math.random()}`, 'export', () =>
      Promise.resolve(this.snapshot(instance)),
    );
    return (await accepted.result) as StateSnapshot;
  }

  /** Replaces an active instance's state between handlers; false if the instance is not active. */
  async importState(agentId: string, snapshot: StateSnapshot): Promise<boolean> {
    const instance = this.instances.get(agentId);
    if (!instance) return false;
    const state = this.checkSnapshot(agentId, snapshot);
    const accepted = this.enqueue(instance, `import:${agentId}:${Math.random()}`, 'import', () => {
      instance.state = state;
      return Promise.resolve(undefined);
    });
    await accepted.result;
    return true;
  }

  /** Drains an instance, drops it and returns its final state (hibernation); undefined if not active. */
  async deactivate(agentId: string): Promise<StateSnapshot | undefined> {
    const snapshot = await this.exportState(agentId);
    this.instances.delete(agentId);
    return snapshot;
  }

  /** Validates a snapshot for this type; returns the parsed state. */
  checkSnapshot(agentId: string, snapshot: StateSnapshot): unknown {
    if (snapshot.v !== 1 || snapshot.agentType !== this.definition.type) {
      throw new InvalidStateError(
        agentId,
        `  - snapshot is for agent type '${snapshot.agentType}' (version ${String(snapshot.v)}); expected '${this.definition.type}' version 1`,
      );
    }
    const parsed = this.definition.parseState(snapshot.state);
    if (!parsed.success) throw new InvalidStateError(agentId, formatProblems(parsed.error));
    return parsed.data;
  }

  /** Cancels every queued and running delivery; later accepts fail. */
  close(reason = 'the runtime is shutting down'): void {
    this.closed = true;
    for (const [id, entry] of [...this.jobs]) {
      this.cancel(id, new CancelledError(entry.instance.id, entry.messageType, reason));
    }
  }

  private instance(agentId: string, ephemeral: boolean): Instance {
    if (this.closed) throw new AgentUnavailableError(agentId, 'its runtime is closed');
    let instance = this.instances.get(agentId);
    if (instance) return instance;
    const address = parseAgentId(agentId);
    instance = {
      id: agentId,
      type: address.type,
      key: address.key,
      state: undefined,
      activated: false,
      mailbox: new Mailbox(),
      ephemeral,
    };
    this.instances.set(agentId, instance);
    return instance;
  }

  private async activate(instance: Instance, signal: () => AbortSignal): Promise<void> {
    if (instance.activated) return;
    const saved = instance.ephemeral ? undefined : await this.port.load(instance.id);
    instance.state = saved ? this.checkSnapshot(instance.id, saved) : this.definition.initialState();
    instance.activated = true;
    const onStart = this.definition.onStart;
    if (onStart) {
      try {
        await onStart(this.context(instance, signal, undefined, undefined));
      } catch (error) {
        instance.activated = false;
        throw this.handlerFailure(instance.id, 'onStart', error, signal);
      }
    }
  }

  private enqueue(
    instance: Instance,
    id: string,
    messageType: string,
    body: (signal: () => AbortSignal) => Promise<unknown>,
  ): Accepted {
    let resolve!: (value: unknown) => void;
    let reject!: (error: unknown) => void;
    const result = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // The AbortController is made lazily (on cancel, or when the handler reads ctx.signal): most
    // messages are never cancelled, and a controller per message is the costliest part of a send.
    const entry: JobEntry = {
      instance,
      messageType,
      controller: undefined,
      reject,
      job: {
        id,
        started: false,
        run: async () => {
          const signal = signalOf(entry);
          try {
            if (entry.controller?.signal.aborted) throw entry.controller.signal.reason;
            await this.activate(instance, signal);
            resolve(await body(signal));
          } catch (error) {
            reject(error);
          } finally {
            this.jobs.delete(id);
          }
        },
      },
    };
    this.jobs.set(id, entry);
    instance.mailbox.push(entry.job);
    return { result };
  }

  private handlerFailure(
    agentId: string,
    messageType: string,
    error: unknown,
    signal: () => AbortSignal,
  ): Error {
    // A handler that gives up because it was cancelled reports the cancellation itself.
    if (signal().aborted && error === signal().reason) return error as Error;
    const remote = {
      name: error instanceof Error ? error.name : 'NonError',
      code:
        typeof (error as { code?: unknown })?.code === 'string'
          ? (error as { code: string }).code
          : undefined,
      message: error instanceof Error ? error.message : String(error),
    };
    return new AgentHandlerError(agentId, messageType, remote, { cause: error });
  }

  private snapshot(instance: Instance): StateSnapshot {
    return { v: 1, agentType: this.definition.type, state: instance.state };
  }

  private context(
    instance: Instance,
    signal: () => AbortSignal,
    sender: string | undefined,
    topic: string | undefined,
  ): AgentContext<unknown> {
    const port = this.port;
    const self = instance.id;
    const state: AgentStateHandle<unknown> = {
      get: () => instance.state,
      set: (next) => {
        const parsed = this.definition.parseState(next);
        if (!parsed.success) throw new InvalidStateError(self, formatProblems(parsed.error));
        instance.state = parsed.data;
      },
      save: () => port.checkpoint(self, this.snapshot(instance)),
    };
    return {
      agentId: self,
      agentType: instance.type,
      agentKey: instance.key,
      sender,
      topic,
      get signal() {
        return signal();
      },
      state,
      send: (to, type, payload) => port.send(self, to, type, payload),
      publish: (t, type, payload) => port.publish(self, t, type, payload),
      request: async <R>(
        to: string,
        type: string,
        payload: unknown,
        options: { timeoutMs?: number; signal?: AbortSignal } = {},
      ) => {
        if (to === self) throw new SelfRequestError(self, type);
        const signals = options.signal ? AbortSignal.any([signal(), options.signal]) : signal();
        return (await port.request(self, to, type, payload, {
          timeoutMs: options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
          signal: signals,
        })) as R;
      },
      broadcast: (type, payload) => port.broadcast(self, type, payload),
      subscribe: (t, options = {}) => port.subscribe(self, t, options),
      unsubscribe: (t) => port.unsubscribe(self, t),
    };
  }
}
