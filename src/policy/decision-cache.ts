import type { PolicyDecision } from './types.js';

/**
 * A bounded least-recently-used cache of decisions keyed by the canonical request. The engine clears
 * it on every reload, so a cached decision always belongs to the current policy set.
 */
export class DecisionCache {
  private readonly map = new Map<string, PolicyDecision>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number) {}

  get(key: string): PolicyDecision | undefined {
    const found = this.map.get(key);
    if (found === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    // Refresh recency: Map iterates in insertion order, so the first key is the least recently used.
    this.map.delete(key);
    this.map.set(key, found);
    return found;
  }

  set(key: string, decision: PolicyDecision): void {
    if (this.capacity <= 0) return;
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next();
      if (!oldest.done) this.map.delete(oldest.value);
    }
    this.map.set(key, decision);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
