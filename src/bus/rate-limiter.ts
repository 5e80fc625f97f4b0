import { Pruner } from './prune.js';

/** What an agent's shared bucket answered. */
export interface Grant {
  /** Tokens taken for this process. */
  readonly granted: number;
  /** When the bucket holds less than a whole token after the take: ms until it does; else 0. */
  readonly waitMs: number;
}

/**
 * Takes up to `want` tokens from an agent's shared bucket, after giving back `give` tokens this
 * process held too long to spend (`rate-take.lua.ts` on Redis; an in-memory bucket in unit tests).
 */
export type TakeShared = (agentId: string, want: number, give: number) => Promise<Grant>;

/**
 * Tokens a process holds are spent within this long of their take, or given back with its next take
 * (and an agent holding only such tokens can be pruned). Long, so that an agent sending now and then
 * finds its tokens at hand instead of waiting for Redis; it does not loosen the limit, which already
 * allows what a process holds (at most 1.5 chunks) on top of the burst.
 */
export const HOLD_MS = 60_000;

export interface Waiter {
  resolve(waitMs: number): void;
  reject(error: Error): void;
}

interface Held {
  /** Taken from the shared bucket, not spent yet. */
  tokens: number;
  /** Spendable until then (this process's clock). */
  until: number;
  /** Sends waiting for a take, in call order. */
  queue: Waiter[];
  fetching: boolean;
}

/**
 * Per-agent rate limits that hold across every process on the bus. Each agent has one token bucket
 * in Redis; a process takes tokens from it in chunks of ~50 ms of the rate (at most a quarter of the
 * burst) and spends them without a round trip, taking the next chunk in the background once half is
 * spent. A process never spends a token the shared bucket did not grant, so all processes together
 * stay within the limit; what one holds unspent (at most 1.5 chunks) is given back after `HOLD_MS`.
 * A send that finds no token here waits for a take, behind earlier waiting sends of its agent, so
 * one sender's messages keep their order.
 */
export class RateLimiter {
  /** Tokens taken per round trip. */
  readonly chunk: number;
  private readonly held = new Map<string, Held>();
  private readonly pruner: Pruner;

  constructor(
    perSecond: number,
    burst: number,
    private readonly takeShared: TakeShared,
    private readonly now: () => number = Date.now,
    private readonly onPrefetchError: (error: unknown) => void = () => {},
  ) {
    this.chunk = Math.max(1, Math.min(Math.floor(burst / 4), Math.ceil(perSecond / 20)));
    this.pruner = new Pruner(now);
  }

  /** Agents this process holds state for (pruned of those with nothing held and nothing waiting). */
  get size(): number {
    return this.held.size;
  }

  /**
   * Takes one token for a send by `agentId` if one is at hand and no earlier send of the agent waits
   * for one; false otherwise (then {@link wait}).
   */
  tryTake(agentId: string): boolean {
    let h = this.held.get(agentId);
    if (!h) {
      this.pruner.sweep(
        this.held,
        (x, t) => x.queue.length === 0 && !x.fetching && (x.tokens < 1 || t >= x.until),
      );
      h = { tokens: 0, until: 0, queue: [], fetching: false };
      this.held.set(agentId, h);
    }
    if (h.queue.length > 0 || h.tokens < 1 || this.now() >= h.until) return false;
    h.tokens -= 1;
    if (this.chunk > 1 && !h.fetching && h.tokens < this.chunk / 2) this.fetch(agentId, h);
    return true;
  }

  /**
   * Queues a send that found no token (after {@link tryTake}) behind the earlier waiting sends of its
   * agent. `waiter.resolve` is called with 0 when its token is taken, or with the ms until the shared
   * bucket holds a token again (the send is refused); `waiter.reject` if Redis could not be asked.
   * Waiters are called in queue order, synchronously from one answer, so that what each does with its
   * token (queue its message) happens before any later send can take one.
   */
  wait(agentId: string, waiter: Waiter): void {
    let h = this.held.get(agentId);
    if (!h) {
      h = { tokens: 0, until: 0, queue: [], fetching: false };
      this.held.set(agentId, h);
    }
    h.queue.push(waiter);
    if (h.fetching) return;
    h.fetching = true; // the sends of this turn join the queue, and one take serves them all
    const held = h;
    queueMicrotask(() => this.fetch(agentId, held));
  }

  private fetch(agentId: string, h: Held): void {
    if (h.queue.length === 0 && h.tokens >= this.chunk / 2 && this.now() < h.until) {
      h.fetching = false; // the waiters that asked were served meanwhile
      return;
    }
    h.fetching = true;
    let give = 0;
    if (this.now() >= h.until) {
      give = h.tokens;
      h.tokens = 0;
    }
    const want = Math.max(this.chunk, h.queue.length);
    this.takeShared(agentId, want, give).then(
      ({ granted, waitMs }) => {
        h.fetching = false;
        if (granted > 0) {
          h.tokens += granted;
          h.until = this.now() + HOLD_MS;
        }
        while (h.queue.length > 0 && h.tokens >= 1) {
          h.tokens -= 1;
          (h.queue.shift() as Waiter).resolve(0);
        }
        if (h.queue.length === 0) return;
        if (granted >= want) {
          this.fetch(agentId, h); // a prefetch came back to more waiters than it asked for
          return;
        }
        for (const w of h.queue.splice(0)) w.resolve(Math.max(1, waitMs));
      },
      (error: unknown) => {
        h.fetching = false;
        const err = error instanceof Error ? error : new Error(String(error));
        if (h.queue.length === 0) this.onPrefetchError(err);
        for (const w of h.queue.splice(0)) w.reject(err);
      },
    );
  }
}
