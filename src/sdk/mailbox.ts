/** One unit of work in an instance's queue. */
export interface Job {
  readonly id: string;
  started: boolean;
  run(): Promise<void>;
}

/**
 * A FIFO of jobs run one at a time: the "at most one handler per agent instance" guarantee.
 * Head-indexed array (no O(n) shift), compacted as it drains.
 */
export class Mailbox {
  private items: (Job | undefined)[] = [];
  private head = 0;
  private running = false;
  private idleWaiters: (() => void)[] = [];

  get size(): number {
    return this.items.length - this.head + (this.running ? 1 : 0);
  }

  push(job: Job): void {
    this.items.push(job);
    if (!this.running) void this.drain();
  }

  /** Removes a job that has not started; true if it was found. */
  remove(id: string): boolean {
    for (let i = this.head; i < this.items.length; i++) {
      if (this.items[i]?.id === id) {
        this.items[i] = undefined;
        return true;
      }
    }
    return false;
  }

  /** Resolves when the queue is empty and nothing runs. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.head < this.items.length) {
        const job = this.items[this.head];
        this.items[this.head++] = undefined;
        if (this.head > 1024 && this.head * 2 > this.items.length) {
          this.items = this.items.slice(this.head);
          this.head = 0;
        }
        if (!job) continue;
        job.started = true;
        // run() owns its error handling; a throw here would be a bug, so it must not stop the queue.
        await job.run().catch(() => undefined);
      }
    } finally {
      this.items = [];
      this.head = 0;
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
