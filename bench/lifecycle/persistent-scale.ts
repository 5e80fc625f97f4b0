/**
 * Many concurrent persistent agents on this machine (the seed's floor: 10,000; target 20,000): the
 * time to create them all and to see them all Ready (admitted by policy, audited, waiting for tasks,
 * no container), the worker's and the Temporal server's RSS, proof that they are live (status
 * queries and real tasks in containers for a random sample), then the cleanup — beside the raw
 * limit of the same server and worker tuning: N trivial idle workflows (one workflow task that marks
 * them Ready, no activities).
 *
 *   npx tsx bench/lifecycle/persistent-scale.ts                     (BENCH_AGENTS=10000)
 *   BENCH_AGENTS=20000 npx tsx bench/lifecycle/persistent-scale.ts  (the target)
 *   BENCH_AGENTS=500 npx tsx bench/lifecycle/persistent-scale.ts    (quick)
 *   npx tsx bench/lifecycle/persistent-scale.ts --cleanup           (removes leftovers of any run)
 *
 * Knobs (environment):
 *   BENCH_CONCURRENCY     client starts in flight (32)
 *   BENCH_WINDOW          at most this many agents started and not yet Ready (0 = no limit)
 *   BENCH_SAMPLE          agents status-queried, and others given a task in a container (20)
 *   BENCH_RAW=0           skip the raw run; BENCH_RAW_N its size (min(N, 2000))
 *   BENCH_SWEEP=1         time one policy re-check of every agent
 *   BENCH_ENFORCE_MS      the worker's policy re-check interval (1 h here, see ENFORCE_MS)
 *   BENCH_MAX_CACHED, BENCH_MAX_WFT, BENCH_WFT_POLLS, BENCH_MAX_ACTIVITIES
 *                         control worker tuning (ControlWorkerTuning; SDK defaults when unset)
 *   BENCH_WORKER_HEAP_MB  the worker's --max-old-space-size
 *   BENCH_WORKER_CPU_PROFILE=<dir>  write the workers' V8 CPU profiles there (main thread and
 *                         workflow thread; summarise with persistent-scale/profile-summary.ts)
 *
 * The workers run in child processes (one for the agents: control + host worker, one for the raw
 * workflow) on a fresh task queue, host id and audit prefix, against the shared Temporal dev server
 * (SQLite) and Redis; everything is named `bench-scale-<random>` so that `--cleanup` finds it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import Docker from 'dockerode';
import { ArsClient } from '../../src/client/index.js';
import { compileSettings, type Settings } from '../../src/config/index.js';
import { SEARCH_ATTRIBUTES } from '../../src/lifecycle/search-attributes.js';
import { LABELS } from '../../src/sandbox/index.js';
import { randomId } from '../../src/util/ids.js';
import { deleteKeys } from '../../test/helpers/runtime.js';
import { connect, installQuietRuntime } from '../../workers/index.js';
import { mib, procMemory, RssSampler } from './persistent-scale/procfs.js';
import type { ChildMessage, ParentMessage, WorkerProcessConfig } from './persistent-scale/worker-process.js';

const PREFIX = 'bench-scale';
const env = process.env;

// compileSettings() finds the checkout relative to dist/src/config, which is wrong when this runs
// from source under tsx: name the state and policy directories from the checkout this file is in
// (the worker children inherit them).
let root = dirname(fileURLToPath(import.meta.url));
while (!existsSync(`${root}/package.json`) && dirname(root) !== root) root = dirname(root);
env.ARS_HOME ??= `${root}/.ars`;
env.ARS_POLICY_DIR ??= `${root}/policies/default`;
const num = (name: string, fallback: number) => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
};
const optional = (name: string) => (env[name] ? num(name, 0) : undefined);

const N = num('BENCH_AGENTS', 10_000);
const CONCURRENCY = num('BENCH_CONCURRENCY', 32);
const DELETE_CONCURRENCY = 32;
/** At most this many agents started but not yet Ready (0: no limit, only BENCH_CONCURRENCY). */
const WINDOW = num('BENCH_WINDOW', 0);
/** The raw run's size: its rate is what is compared, and it costs minutes at 10,000+. */
const RAW_N = num('BENCH_RAW_N', Math.min(N, 2000));
const SAMPLE = Math.min(num('BENCH_SAMPLE', 20), Math.floor(N / 2));
const TASK_CONCURRENCY = num('BENCH_TASK_CONCURRENCY', 4);
const READY_TIMEOUT_MS = num('BENCH_READY_TIMEOUT_S', 7200) * 1000;
const SETTLE_MS = num('BENCH_SETTLE_S', 15) * 1000;
const tuning = Object.fromEntries(
  Object.entries({
    maxCachedWorkflows: optional('BENCH_MAX_CACHED'),
    maxConcurrentWorkflowTaskExecutions: optional('BENCH_MAX_WFT'),
    maxConcurrentWorkflowTaskPolls: optional('BENCH_WFT_POLLS'),
    maxConcurrentActivityTaskExecutions: optional('BENCH_MAX_ACTIVITIES'),
  }).filter(([, value]) => value !== undefined),
);
// The runtime policy enforcer queries every live agent each interval (30 s by default): at 10,000
// agents that is a continuous stream of queries and replays competing with creation, so the bench
// sets it to an hour and times one full re-check separately (BENCH_SWEEP=1).
const ENFORCE_MS = num('BENCH_ENFORCE_MS', 3_600_000);
const WORKER_HEAP_MB = optional('BENCH_WORKER_HEAP_MB');
const CPU_PROFILE_DIR = env.BENCH_WORKER_CPU_PROFILE;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = (n: number, ms: number) => `${((n * 1000) / ms).toFixed(0)}/s`;
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
const p50p95 = (values: number[]) =>
  `p50 ${percentile(values, 50).toFixed(0)} ms, p95 ${percentile(values, 95).toFixed(0)} ms`;

/** Runs fn(0..n-1) with at most `concurrency` calls in flight. */
async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function sampleIndices(n: number, count: number, exclude = new Set<number>()): number[] {
  const picked = new Set<number>();
  while (picked.size < count) {
    const i = Math.floor(Math.random() * n);
    if (!exclude.has(i)) picked.add(i);
  }
  return [...picked];
}

// ---- worker child processes ------------------------------------------------------------------

interface WorkerChild {
  readonly process: ChildProcess;
  readonly pid: number;
  next<T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>>;
  send(message: ParentMessage): void;
  stop(): Promise<void>;
}

async function startWorkerChild(config: WorkerProcessConfig): Promise<WorkerChild> {
  const child = fork(fileURLToPath(new URL('./persistent-scale/worker-process.ts', import.meta.url)), [], {
    execArgv: [
      '--import',
      'tsx',
      ...(WORKER_HEAP_MB ? [`--max-old-space-size=${WORKER_HEAP_MB}`] : []),
      ...(CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROFILE_DIR}`] : []),
    ],
    env: { ...env, BENCH_WORKER: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const next = <T extends ChildMessage['type']>(type: T) =>
    new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const onMessage = (message: ChildMessage) => {
        if (message.type === 'error') reject(new Error(`${config.role} worker: ${message.message}`));
        else if (message.type !== type) return;
        else resolve(message as Extract<ChildMessage, { type: T }>);
        cleanup();
      };
      const onExit = (code: number | null) => {
        reject(new Error(`${config.role} worker exited (code ${code}) before sending '${type}'`));
        cleanup();
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const ready = next('ready');
  await ready;
  if (!child.pid) throw new Error(`${config.role} worker has no pid`);
  return {
    process: child,
    pid: child.pid,
    next,
    send: (message) => void child.send(message),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: 'stop' } satisfies ParentMessage);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>(
        (resolve) => (timer = setTimeout(() => resolve('timeout'), 60_000)),
      );
      const outcome = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

// ---- visibility, terminate + delete ----------------------------------------------------------

async function count(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

/**
 * Terminates and deletes workflows, `DELETE_CONCURRENCY` calls in flight: DeleteWorkflowExecution
 * terminates a running execution, then deletes it, so the shared dev server's database does not keep
 * them. (The server-side batch operation is capped at ~50 workflows/s by the dev server's default
 * `worker.batcherRPS`, 5x slower than this.) Waits until the query matches nothing; returns the ms.
 */
async function removeAll(
  client: Client,
  ids: readonly string[],
  query: string,
  label: string,
): Promise<number> {
  const started = performance.now();
  const namespace = client.options.namespace;
  let failed = 0;
  await pool(ids.length, DELETE_CONCURRENCY, async (i) => {
    try {
      await client.workflowService.deleteWorkflowExecution({
        namespace,
        workflowExecution: { workflowId: ids[i] ?? '' },
      });
    } catch (error) {
      if ((error as { code?: number }).code !== 5) failed += 1; // 5 = NOT_FOUND: never started
    }
  });
  const deletedMs = performance.now() - started;
  let remaining = await count(client, query);
  for (let i = 0; i < 120 && remaining > 0; i++) {
    await sleep(1000);
    remaining = await count(client, query);
  }
  console.log(
    `  ${label}: terminated and deleted ${ids.length} in ${seconds(deletedMs)} (${rate(ids.length, deletedMs)}), ` +
      `${failed} call(s) failed, ${remaining} left in visibility after ${seconds(performance.now() - started)}`,
  );
  if (remaining > 0) throw new Error(`${label}: ${remaining} workflow(s) left after cleanup: ${query}`);
  return deletedMs;
}

async function listIds(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
  return ids;
}

/** Polls a visibility count until it reaches `target`; prints progress; returns the elapsed ms. */
async function waitForCount(
  client: Client,
  query: string,
  target: number,
  since: number,
  progress: (done: number) => string,
  failedQuery?: string,
  onCount?: (done: number) => void,
): Promise<number> {
  let lastPrint = performance.now();
  for (;;) {
    const done = await count(client, query);
    onCount?.(done);
    const now = performance.now();
    if (done >= target) return now - since;
    if (now - since > READY_TIMEOUT_MS)
      throw new Error(`only ${done}/${target} reached after ${seconds(now - since)}: ${query}`);
    if (now - lastPrint > 10_000) {
      lastPrint = now;
      console.log(`    t=${seconds(now - since).padStart(7)}  ${progress(done)}`);
      if (failedQuery) {
        const failed = await count(client, failedQuery);
        if (failed > 0) throw new Error(`${failed} workflow(s) closed while waiting: ${failedQuery}`);
      }
    }
    await sleep(1000);
  }
}

// ---- the bench --------------------------------------------------------------------------------

const temporalPid = (settings: Settings): number | undefined => {
  try {
    return Number(readFileSync(`${settings.stateDir}/temporal.pid`, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
};

async function cleanupLeftovers(client: Client, settings: Settings, docker: Docker): Promise<void> {
  const query = `ArsHost STARTS_WITH '${PREFIX}-'`;
  await removeAll(client, await listIds(client, query), query, 'leftover workflows');
  await deleteKeys(settings.redisUrl, `ars-${PREFIX}-*`);
  const containers = (await docker.listContainers({ all: true, filters: { label: [LABELS.host] } })).filter(
    (c) => c.Labels[LABELS.host]?.startsWith(`${PREFIX}-`),
  );
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true });
  console.log(`  removed ${containers.length} leftover container(s) and the audit keys ars-${PREFIX}-*`);
}

interface RawFigures {
  n: number;
  startMs: number;
  workerIdle: number;
  readyMs: number;
  /** Time until 99% were Ready: one straggler (e.g. an activity attempt that hangs until its timeout) does not count. */
  ready99Ms: number;
  workerPeak: number;
  workerSettled: number;
}

/** Records when a count first reached `target` (ms since `since`). */
class Milestone {
  ms: number | undefined;
  constructor(
    private readonly target: number,
    private readonly since: number,
  ) {}
  seen(count: number): void {
    if (this.ms === undefined && count >= this.target) this.ms = performance.now() - this.since;
  }
}

async function rawRun(client: Client, runId: string, sampler: RssSampler): Promise<RawFigures> {
  const rawHost = `${runId}-raw`;
  const worker = await startWorkerChild({
    role: 'raw',
    hostId: rawHost,
    controlTaskQueue: `${runId}-unused`,
    auditPrefix: `ars-${runId}-unused`,
    rawTaskQueue: rawHost,
    tuning,
    enforceIntervalMs: ENFORCE_MS,
  });
  sampler.watch(worker.pid);
  const workerIdle = procMemory(worker.pid)?.rss ?? NaN;
  const query = `ArsHost = '${rawHost}'`;
  try {
    console.log(`raw: ${RAW_N} idle workflows (one workflow task, no activities) on ${rawHost}`);
    const since = performance.now();
    let started = 0;
    const starting = pool(RAW_N, CONCURRENCY, async (i) => {
      await client.workflow.start('rawIdleWorkflow', {
        workflowId: `${rawHost}-${i}`,
        taskQueue: rawHost,
        typedSearchAttributes: new TypedSearchAttributes([
          { key: SEARCH_ATTRIBUTES.state, value: 'Initializing' },
          { key: SEARCH_ATTRIBUTES.host, value: rawHost },
        ]),
      });
      started += 1;
    }).then(() => performance.now() - since);
    const ready99 = new Milestone(RAW_N * 0.99, since);
    const readyMs = await waitForCount(
      client,
      `${query} AND ArsState = 'Ready'`,
      RAW_N,
      since,
      (ready) =>
        `started ${started}/${RAW_N}, Ready ${ready}, worker RSS ${mib(procMemory(worker.pid)?.rss ?? NaN)}`,
      undefined,
      (ready) => ready99.seen(ready),
    );
    const startMs = await starting;
    await sleep(Math.min(SETTLE_MS, 5000));
    const figures = {
      n: RAW_N,
      workerIdle,
      startMs,
      readyMs,
      ready99Ms: ready99.ms ?? readyMs,
      workerPeak: sampler.peak(worker.pid),
      workerSettled: procMemory(worker.pid)?.rss ?? NaN,
    };
    console.log(
      `  started all in ${seconds(startMs)} (${rate(RAW_N, startMs)}); all Ready in ${seconds(readyMs)} (${rate(RAW_N, readyMs)})`,
    );
    return figures;
  } finally {
    const ids = Array.from({ length: RAW_N }, (_, i) => `${rawHost}-${i}`);
    await removeAll(client, ids, query, 'raw');
    await worker.stop();
  }
}

async function main(): Promise<void> {
  installQuietRuntime('ERROR');
  const base = compileSettings();
  const connection = await connect(base);
  const client = connection.client;
  const docker = new Docker();
  if (process.argv.includes('--cleanup')) {
    try {
      await cleanupLeftovers(client, base, docker);
    } finally {
      await connection.close();
    }
    return;
  }

  const runId = randomId(PREFIX, 4);
  const settings = compileSettings({
    hostId: runId,
    controlTaskQueue: `${runId}-control`,
    auditPrefix: `ars-${runId}-audit`,
  });
  const ars = new ArsClient(client, settings);
  const sampler = new RssSampler();
  const tPid = temporalPid(settings);
  if (tPid) sampler.watch(tPid);
  console.log(
    `persistent-scale: N=${N}, client concurrency ${CONCURRENCY}, run ${runId}, worker tuning ${JSON.stringify(tuning)}` +
      ` (SDK defaults otherwise), policy re-check every ${ENFORCE_MS} ms, worker heap limit ${WORKER_HEAP_MB ?? 'default'} MB`,
  );
  console.log(
    `  Temporal server pid ${tPid ?? '?'}: RSS at start ${mib(tPid ? (procMemory(tPid)?.rss ?? NaN) : NaN)}`,
  );

  let raw: RawFigures | undefined;
  if (env.BENCH_RAW !== '0') raw = await rawRun(client, runId, sampler);

  const agentsQuery = `ArsHost = '${settings.hostId}'`;
  let worker: WorkerChild | undefined;
  let failure: unknown;
  let aborted = false;
  const lines: string[] = [];
  try {
    worker = await startWorkerChild({
      role: 'agents',
      hostId: settings.hostId,
      controlTaskQueue: settings.controlTaskQueue,
      auditPrefix: settings.auditPrefix,
      rawTaskQueue: `${runId}-unused`,
      tuning,
      enforceIntervalMs: ENFORCE_MS,
    });
    const workerPid = worker.pid;
    sampler.watch(workerPid);
    if (tPid) sampler.reset(tPid);
    const workerIdle = procMemory(workerPid)?.rss ?? NaN;

    console.log(`agents: ${N} persistent agents named ${runId} on host ${settings.hostId}`);
    const since = performance.now();
    let started = 0;
    let launched = 0;
    let readySeen = 0;
    const starting = pool(N, CONCURRENCY, async (i) => {
      // With a window, keep at most WINDOW agents started but not yet Ready (as visibility sees it).
      while (WINDOW > 0 && launched - readySeen >= WINDOW) {
        if (aborted) throw new Error('bench aborted');
        await sleep(100);
      }
      launched += 1;
      await ars.createAgent({ id: `${runId}-${i}`, name: runId, mode: 'persistent' });
      started += 1;
    }).then(() => performance.now() - since);
    starting.catch(() => undefined);
    const ready99 = new Milestone(N * 0.99, since);
    const readyMs = await waitForCount(
      client,
      `${agentsQuery} AND ArsState = 'Ready'`,
      N,
      since,
      (ready) =>
        `started ${started}/${N}, Ready ${ready}, worker RSS ${mib(procMemory(workerPid)?.rss ?? NaN)}, Temporal RSS ${mib(tPid ? (procMemory(tPid)?.rss ?? NaN) : NaN)}`,
      `${agentsQuery} AND ExecutionStatus != 'Running'`,
      (ready) => {
        readySeen = ready;
        ready99.seen(ready);
      },
    );
    const ready99Ms = ready99.ms ?? readyMs;
    const startMs = await starting;
    const workerPeak = sampler.peak(workerPid);
    const temporalPeak = tPid ? sampler.peak(tPid) : NaN;
    console.log(
      `  started all in ${seconds(startMs)} (${rate(N, startMs)}); all Ready in ${seconds(readyMs)} (${rate(N, readyMs)})`,
    );

    await sleep(SETTLE_MS);
    const settled = procMemory(workerPid)?.rss ?? NaN;
    worker.send({ type: 'memory' });
    const heap = await worker.next('memory');
    const temporalSettled = tPid ? (procMemory(tPid)?.rss ?? NaN) : NaN;

    // History of one idle agent.
    const one = await client.workflow.getHandle(`agent-${runId}-0`).describe();

    // Live: status queries of a sample (each may replay the agent if it left the sticky cache).
    const queried = sampleIndices(N, SAMPLE);
    const queryMs: number[] = [];
    for (const i of queried) {
      const t = performance.now();
      const status = await ars.status(`${runId}-${i}`);
      queryMs.push(performance.now() - t);
      if (status.state !== 'Ready' || status.mode !== 'persistent')
        throw new Error(
          `agent ${runId}-${i} is ${status.state} (${status.mode}), expected a Ready persistent agent`,
        );
    }

    // Live: a real task in a container for another sample.
    const tasked = sampleIndices(N, SAMPLE, new Set(queried));
    const taskMs: number[] = [];
    await pool(tasked.length, TASK_CONCURRENCY, async (k) => {
      const id = `${runId}-${tasked[k]}`;
      const t = performance.now();
      const { seq } = await ars.assignTask(id, { command: ['true'] });
      const result = await ars.waitForTask(id, seq, 180_000);
      taskMs.push(performance.now() - t);
      if (result.outcome !== 'succeeded')
        throw new Error(`task of ${id} ${result.outcome}: ${result.stderr}`);
    });
    for (const i of tasked) {
      const status = await ars.status(`${runId}-${i}`);
      if (status.state !== 'Ready' || status.tasksCompleted !== 1)
        throw new Error(
          `agent ${runId}-${i} is ${status.state} with ${status.tasksCompleted} task(s) after its task`,
        );
    }
    const containersAfterTasks = (
      await docker.listContainers({ all: true, filters: { label: [`${LABELS.host}=${settings.hostId}`] } })
    ).length;
    const readyNow = await count(
      client,
      `${agentsQuery} AND ArsState = 'Ready' AND ExecutionStatus = 'Running'`,
    );

    let sweep: { signalled: number; ms: number } | undefined;
    if (env.BENCH_SWEEP === '1') {
      worker.send({ type: 'sweep' });
      sweep = await worker.next('swept');
    }

    lines.push(
      `${N} persistent agents (admitted by policy, 4 audit entries each, Ready, no container), client concurrency ${CONCURRENCY}${WINDOW ? `, window ${WINDOW} not yet Ready` : ''}`,
      `  time to start all            ${seconds(startMs).padStart(9)}   ${rate(N, startMs)}`,
      `  time to all Ready            ${seconds(readyMs).padStart(9)}   ${rate(N, readyMs)}`,
      `  time to 99% Ready            ${seconds(ready99Ms).padStart(9)}   ${rate(N * 0.99, ready99Ms)}`,
      `  worker RSS (control + host)  idle ${mib(workerIdle)}, peak ${mib(workerPeak)}, settled ${mib(settled)} (heap used ${mib(heap.heapUsed)})`,
      `  Temporal server RSS          peak ${mib(temporalPeak)}, settled ${mib(temporalSettled)}`,
      `  history of an idle agent     ${one.historyLength} events, ${one.historySize ?? '?'} bytes`,
      `  status query, ${SAMPLE} random     ${p50p95(queryMs)} (all Ready)`,
      `  task ['true'], ${SAMPLE} random    ${p50p95(taskMs)} assign → result, ${TASK_CONCURRENCY} at a time; all back to Ready with 1 task done`,
      `  after the tasks              ${readyNow}/${N} Ready in visibility, ${containersAfterTasks} container(s) on the host`,
      ...(sweep
        ? [
            `  policy re-check of all agents ${seconds(sweep.ms)} (${rate(N, sweep.ms)}), ${sweep.signalled} signalled`,
          ]
        : []),
    );
    if (raw) {
      lines.push(
        `raw limit, same run: ${raw.n} idle workflows (one workflow task, no activities), same worker tuning`,
        `  time to start all            ${seconds(raw.startMs).padStart(9)}   ${rate(raw.n, raw.startMs)}`,
        `  time to all Ready            ${seconds(raw.readyMs).padStart(9)}   ${rate(raw.n, raw.readyMs)}`,
        `  time to 99% Ready            ${seconds(raw.ready99Ms).padStart(9)}   ${rate(raw.n * 0.99, raw.ready99Ms)}`,
        `  worker RSS                   idle ${mib(raw.workerIdle)}, peak ${mib(raw.workerPeak)}, settled ${mib(raw.workerSettled)}`,
        `  agents/s to Ready vs raw     ${((N / readyMs / (raw.n / raw.readyMs)) * 100).toFixed(0)}% of the raw rate (all), ${((N / ready99Ms / (raw.n / raw.ready99Ms)) * 100).toFixed(0)}% (99%)`,
      );
    }
  } catch (error) {
    failure = error;
  } finally {
    aborted = true;
    console.log('cleanup');
    try {
      const ids = Array.from({ length: N }, (_, i) => `agent-${runId}-${i}`);
      await removeAll(client, ids, agentsQuery, 'agents');
    } catch (error) {
      failure ??= error;
    }
    await worker?.stop();
    const leaked = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.host}=${settings.hostId}`] },
    });
    for (const c of leaked) await docker.getContainer(c.Id).remove({ force: true });
    console.log(
      `  containers left on the host: ${leaked.length}${leaked.length ? ' (LEAKED; removed now)' : ''}`,
    );
    if (leaked.length) failure ??= new Error(`${leaked.length} container(s) leaked`);
    await deleteKeys(settings.redisUrl, `${settings.auditPrefix}*`);
    sampler.stop();
    await connection.close();
  }
  console.log('');
  for (const line of lines) console.log(line);
  if (failure) throw failure instanceof Error ? failure : new Error('bench failed', { cause: failure });
}

await main();
