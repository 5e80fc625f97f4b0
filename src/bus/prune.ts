/** A map keyed by agent or lane is pruned only once it holds more entries than this. */
export const PRUNE_ABOVE = 1024;
/** At most one pruning pass per map this often. */
export const PRUNE_EVERY_MS = 10_000;

/**
 * Keeps a map keyed by agents (or lanes) from growing with every agent ever seen: once it holds more
 * than `above` entries, at most every `everyMs`, a pass deletes the entries that are as good as absent
 * (a full token bucket, an expired cache entry, an idle lane), so pruning never changes an answer.
 */
export class Pruner {
  private next = 0;

  constructor(
    private readonly now: () => number,
    private readonly above = PRUNE_ABOVE,
    private readonly everyMs = PRUNE_EVERY_MS,
  ) {}

  /** Deletes the entries `gone` picks, if a pass is due; returns how many. */
  sweep<K, V>(map: Map<K, V>, gone: (value: V, now: number) => boolean): number {
    if (map.size <= this.above) return 0;
    const t = this.now();
    if (t < this.next) return 0;
    this.next = t + this.everyMs;
    let n = 0;
    for (const [k, v] of map)
      if (gone(v, t)) {
        map.delete(k);
        n++;
      }
    return n;
  }
}
