import type { StateSnapshot } from './context.js';

/** Where checkpoints live between activations (ctx.state.save(), hibernation, restoreState). */
export interface StateStore {
  get(agentId: string): Promise<StateSnapshot | undefined>;
  put(agentId: string, snapshot: StateSnapshot): Promise<void>;
  delete(agentId: string): Promise<void>;
}

/** A StateStore in this process's memory (the default; a durable one plugs in through the same interface). */
export class MemoryStateStore implements StateStore {
  private readonly snapshots = new Map<string, StateSnapshot>();

  get(agentId: string): Promise<StateSnapshot | undefined> {
    return Promise.resolve(this.snapshots.get(agentId));
  }

  put(agentId: string, snapshot: StateSnapshot): Promise<void> {
    // Stored as JSON so a snapshot never aliases live state, exactly as it would cross a process.
    this.snapshots.set(agentId, JSON.parse(JSON.stringify(snapshot)) as StateSnapshot);
    return Promise.resolve();
  }

  delete(agentId: string): Promise<void> {
    this.snapshots.delete(agentId);
    return Promise.resolve();
  }
}
