import { readFileSync } from 'node:fs';

/**
 * A whole-number bench setting from the environment, or `fallback` when it is unset; anything else
 * stops the bench with an error naming the variable (a typo must not silently run zero rounds).
 */
export function intFromEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name}='${raw}' must be a whole number of at least ${min}`);
  return value;
}

/** The machine's CPU time counters (`/proc/stat`, first line), or undefined where there are none. */
export interface CpuTimes {
  readonly total: number;
  readonly steal: number;
}

export function cpuTimes(): CpuTimes | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return undefined;
  return { total: f.reduce((a, b) => a + b, 0), steal: f[7] as number };
}

/** How the benches introduce the figure of {@link stealSince}. */
export const STEAL_LABEL = "host CPU steal (time the hypervisor gave this machine's CPUs to others)";

/**
 * The share of the machine's CPU time since `from` that the hypervisor gave to other guests (steal):
 * how noisy the host was while a figure was measured. '' where the counters are not available.
 */
export function stealSince(from: CpuTimes | undefined): string {
  const to = cpuTimes();
  if (!from || !to || to.total <= from.total) return '';
  return `${((100 * (to.steal - from.steal)) / (to.total - from.total)).toFixed(1)}%`;
}
