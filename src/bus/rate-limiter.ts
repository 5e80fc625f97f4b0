/** A token bucket per agent, refilled continuously. Local to this process. */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, else the ms until a token is available. */
  take(agentId: string): number {
    const t = this.now();
    let b = this.buckets.get(agentId);
    if (!b) {
      b = { tokens: this.burst, at: t };
      this.buckets.set(agentId, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) * this.perSecond) / 1000);
      b.at = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / this.perSecond));
  }
}
