/**
 * Start→Running and start→Completed latency of an ephemeral Docker agent (p50/p95 over N runs),
 * beside raw `docker run --rm` of the same image, command and hardening flags, in the same run.
 *
 *   npx tsx bench/lifecycle/agent-latency.ts            (N=30; BENCH_N=50 for more)
 *   node dist/bench/lifecycle/agent-latency.js          (after npm run build)
 *
 * Needs the services (`ars up`). Runs are sequential; the machine is shared, so quote medians.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomId } from '../../src/util/ids.js';
import { startTestRuntime } from '../../test/helpers/runtime.js';
import { intFromEnv } from '../env.js';

const run = promisify(execFile);
const N = intFromEnv('BENCH_N', 30, 1);
const WARMUP = 3;
const command = ['true'];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const fmt = (values: number[]) =>
  `p50 ${percentile(values, 50).toFixed(0).padStart(5)} ms   p95 ${percentile(values, 95).toFixed(0).padStart(5)} ms`;

async function rawDockerRun(image: string): Promise<number> {
  const started = performance.now();
  await run('docker', [
    'run',
    '--rm',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--pids-limit',
    '128',
    '--memory',
    '256m',
    '--memory-swap',
    '256m',
    '--cpus',
    '1',
    '--network',
    'none',
    '--user',
    '10001:10001',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/scratch',
    '--init',
    image,
    ...command,
  ]);
  return performance.now() - started;
}

const runtime = await startTestRuntime();
const image = runtime.settings.sandboxImage;
const toRunning: number[] = [];
const toProcess: number[] = [];
const toCompleted: number[] = [];
const raw: number[] = [];
try {
  for (let i = 0; i < WARMUP + N; i++) {
    // Interleave the two so that noise from other load on the machine hits both alike.
    const rawMs = await rawDockerRun(image);
    const id = randomId('bench');
    const startedAt = Date.now();
    await runtime.ars.createAgent({ id, name: 'bench', sandbox: { command } });
    const result = await runtime.ars.result(id);
    const completedAt = Date.now();
    const status = await runtime.ars.status(id);
    const running = status.history.find((t) => t.to === 'Running');
    if (i < WARMUP) continue;
    if (!running || result.result?.outcome !== 'succeeded')
      throw new Error(`run ${i} did not succeed: ${JSON.stringify(result)}`);
    raw.push(rawMs);
    toRunning.push(running.at - startedAt);
    toProcess.push((result.result.startedAt ?? 0) - startedAt);
    toCompleted.push(completedAt - startedAt);
  }
} finally {
  await runtime.stop();
}

console.log(
  `ephemeral Docker agent, command ${JSON.stringify(command)}, ${N} runs (after ${WARMUP} warm-up), image ${image}`,
);
console.log(`  start → Running (state)          ${fmt(toRunning)}`);
console.log(`  start → sandbox process started  ${fmt(toProcess)}`);
console.log(`  start → Completed (result seen)  ${fmt(toCompleted)}`);
console.log(`  raw docker run --rm (same run)   ${fmt(raw)}`);
console.log(
  `  overhead of ARS over raw, p50    ${(percentile(toCompleted, 50) / percentile(raw, 50)).toFixed(2)}x`,
);
