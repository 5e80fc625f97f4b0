import { Pruner } from './prune.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per agent, refilled continuously. Local to this process. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly pruner: Pruner;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.pruner = new Pruner(now);
  }

  /** Agents with a bucket now (pruned: a bucket that has refilled is as good as none). */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token; returns 0 when allowed, else the ms until a token is available. */
  take(agentId: string): number {
    const t = this.now();
    let b = this.buckets.get(agentId);
    if (!b) {
      this.pruner.sweep(this.buckets, (x, now) => this.refilled(x, now) >= this.burst);
      b = { tokens: this.burst, at: t };
      this.buckets.set(agentId, b);
    } else {
      b.tokens = this.refilled(b, t);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / this.perSecond));
  }

  private refilled(b: Bucket, t: number): number {
    return Math.min(this.burst, b.tokens + ((t - b.at) * this.perSecond) / 1000);
  }
}
