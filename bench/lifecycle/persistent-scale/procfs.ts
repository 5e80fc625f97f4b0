/**
 * Resident memory of processes from /proc (Linux): current RSS and the kernel's high-water mark,
 * and a sampler that keeps the peak of processes that report no high-water mark of their own run.
 */
import { readFileSync } from 'node:fs';

export interface ProcMemory {
  /** Resident set size now, bytes. */
  readonly rss: number;
  /** Peak resident set size since the process started (VmHWM), bytes. */
  readonly hwm: number;
}

export function procMemory(pid: number): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Samples the RSS of some processes on an interval and keeps each one's peak. */
export class RssSampler {
  private readonly peaks = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  watch(pid: number): void {
    if (!this.peaks.has(pid)) this.peaks.set(pid, 0);
    this.sample();
  }

  /** Starts a new peak for the process (e.g. for the next phase of the bench). */
  reset(pid: number): void {
    this.peaks.set(pid, 0);
    this.sample();
  }

  peak(pid: number): number {
    return this.peaks.get(pid) ?? NaN;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    for (const [pid, peak] of this.peaks) {
      const memory = procMemory(pid);
      if (memory && memory.rss > peak) this.peaks.set(pid, memory.rss);
    }
  }
}

export const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
