/**
 * The example multi-agent system (examples/agents/fan-out: a coordinator fans jobs out to workers
 * with request/response, publishes results that a ledger collects, keeps state) runs unchanged in
 * four runtimes and gives the same results: standalone in-process; standalone with the agents in
 * hardened Docker containers over the stdio protocol; distributed over three `ars worker --role
 * host` processes (real Temporal host workers, each with its gateway) in-process; and the same
 * three host workers with every agent type in a Docker container.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { compileSettings } from '../../../src/config/index.js';
import { dockerAgentCommand, StdioAgentConnection } from '../../../src/agent-host/index.js';
import { createInProcessRuntime, type AgentRuntime } from '../../../src/sdk/index.js';
import { randomId } from '../../../src/util/ids.js';
import type * as FanOut from '../../../examples/agents/fan-out.js';
import { createCluster, REDIS_URL } from './harness.js';
import { dockerProblem } from '../../helpers/docker.js';
import { eventually } from '../../helpers/runtime.js';
import { hostedAgentWorkflowId } from '../../../workflows/hosted-agent-definitions.js';

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ROOT = fileURLToPath(new URL(ext === '.ts' ? '../../../' : '../../../../', import.meta.url));
const EXAMPLE = fileURLToPath(new URL(`../../../examples/agents/fan-out${ext}`, import.meta.url));
/** The host workers run the compiled CLI and the compiled example (npm test builds both). */
const CLI = `${ROOT}dist/src/cli/main.js`;
const EXAMPLE_JS = `${ROOT}dist/examples/agents/fan-out.js`;
const AGENT_HOST = fileURLToPath(new URL(`../../../src/agent-host/main${ext}`, import.meta.url));

const noDocker = dockerProblem();
if (noDocker) console.error(`SKIPPED the Docker runtimes of the example system: ${noDocker}`);

/** The same scenario in every runtime; returns everything it observed. */
async function scenario(runtime: AgentRuntime) {
  await runtime.subscribe('ledger/main', 'jobs.done');
  const j1 = await runtime.request('coordinator/c1', 'job', { id: 'j1', items: [1, 2, 3, 4, 5, 6, 7] });
  const j2 = await runtime.request('coordinator/c1', 'job', { id: 'j2', items: [10, 20] });
  const once = await runtime.run('coordinator', { items: [2, 3] });
  // The ledger's queue is FIFO and both job-done events were accepted before the jobs returned.
  const ledger = await runtime.request('ledger/main', 'list', {});
  const workers = [];
  for (const w of ['worker/0', 'worker/1', 'worker/2']) workers.push((await runtime.saveState(w))?.state);
  const coordinator = (await runtime.saveState('coordinator/c1'))?.state;
  return { j1, j2, once, ledger, workers, coordinator };
}

const EXPECTED = {
  j1: { id: 'j1', sum: 140, byWorker: ['worker/0', 'worker/1', 'worker/2'] },
  j2: { id: 'j2', sum: 500, byWorker: ['worker/0', 'worker/1'] },
  once: 13,
  ledger: ['j1', 'j2'],
  workers: [{ handled: 5 }, { handled: 4 }, { handled: 2 }],
  coordinator: { jobs: 2, total: 640 },
};

/** A hardened container running the agent host on the example module, for one agent type. */
function containerEndpoint(type: string, name: string): Promise<StdioAgentConnection> {
  const { command, args } = dockerAgentCommand({
    name,
    mounts: { [ROOT]: ROOT },
    command: [
      'node',
      ...process.execArgv.filter((a) => !a.startsWith('--test')),
      AGENT_HOST,
      '--module',
      EXAMPLE,
      '--type',
      type,
    ],
  });
  return StdioAgentConnection.spawn({ command, args, containerName: name, helloTimeoutMs: 60_000 });
}

/** Starts `ars worker --role host --agents <example>` processes; resolves when their gateways serve. */
async function startHostWorkers(
  hostIds: readonly string[],
  prefix: string,
  masterKey: Buffer,
  tier: 'none' | 'docker',
  controlQueue: string,
): Promise<ChildProcess[]> {
  return Promise.all(
    hostIds.map(
      (hostId) =>
        new Promise<ChildProcess>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [CLI, 'worker', '--role', 'host', '--agents', EXAMPLE_JS, '--agent-tier', tier],
            {
              env: {
                ...process.env,
                ARS_HOST_ID: hostId,
                ARS_CONTROL_TASK_QUEUE: controlQueue,
                ARS_BUS_PREFIX: prefix,
                ARS_AUDIT_PREFIX: `${prefix}:audit`,
                ARS_REDIS_URL: REDIS_URL,
                ARS_MASTER_KEY: masterKey.toString('hex'),
              },
              stdio: ['ignore', 'ignore', 'pipe'],
            },
          );
          let stderr = '';
          const timer = setTimeout(
            () => reject(new Error(`host worker ${hostId} not ready in 120 s: ${stderr}`)),
            120_000,
          );
          child.stderr?.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
            if (stderr.includes('gateway hosts agent types')) {
              clearTimeout(timer);
              resolve(child);
            }
          });
          child.once('exit', (code) => {
            clearTimeout(timer);
            reject(new Error(`host worker ${hostId} exited with ${code}: ${stderr}`));
          });
        }),
    ),
  );
}

async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

const containersNamed = (fragment: string): string[] =>
  execFileSync('docker', ['ps', '-a', '--filter', `name=${fragment}`, '--format', '{{.Names}}'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter(Boolean);

describe('the example multi-agent system gives the same results in every runtime', () => {
  const results = new Map<string, unknown>();
  let connection: Connection | undefined;
  let temporal: Client;
  before(async () => {
    connection = await Connection.connect({ address: compileSettings().temporalAddress });
    temporal = new Client({ connection });
  });
  after(async () => {
    await connection?.close();
    // Every runtime that ran agrees with the others (and with the expected figures).
    for (const [name, r] of results) assert.deepEqual(r, EXPECTED, name);
  });

  test('standalone, in-process', async () => {
    const { agents } = (await import(EXAMPLE)) as typeof FanOut;
    const runtime = createInProcessRuntime();
    try {
      for (const a of agents) await runtime.register(a);
      results.set('in-process', await scenario(runtime));
      assert.deepEqual(results.get('in-process'), EXPECTED);
    } finally {
      await runtime.close();
    }
  });

  test('standalone, every agent type in a hardened Docker container', { skip: noDocker }, async () => {
    const runtime = createInProcessRuntime();
    const tag = randomId('ars-ex');
    const connections: StdioAgentConnection[] = [];
    try {
      for (const type of ['coordinator', 'worker', 'ledger']) {
        const c = await containerEndpoint(type, `${tag}-${type}`);
        connections.push(c);
        await runtime.register(c);
      }
      results.set('standalone docker', await scenario(runtime));
      assert.deepEqual(results.get('standalone docker'), EXPECTED);
    } finally {
      await runtime.close();
      await Promise.all(connections.map((c) => c.whenExited()));
    }
    assert.deepEqual(containersNamed(tag), [], 'no container is left');
  });

  for (const tier of ['none', 'docker'] as const) {
    test(
      `distributed: three host worker processes, agents ${tier === 'none' ? 'in-process' : 'in Docker'}`,
      { skip: tier === 'docker' ? noDocker : undefined },
      async () => {
        const cluster = createCluster();
        const hostIds = ['a', 'b', 'c'].map((h) => `ex-${h}-${cluster.prefix}`);
        const controlQueue = `ex-control-${cluster.prefix}`;
        let workers: ChildProcess[] = [];
        try {
          workers = await startHostWorkers(hostIds, cluster.prefix, cluster.masterKey, tier, controlQueue);
          // The test talks to the runtime through a gateway of its own that hosts no agent.
          const client = await cluster.local({ gateway: { id: `client-${cluster.prefix}` } });
          const hosts = (await client.gateway.hosts()).filter((h) => hostIds.includes(h.info.id));
          assert.equal(hosts.filter((h) => h.alive).length, 3);
          const r = await scenario(client.gateway);
          results.set(`distributed ${tier}`, r);
          assert.deepEqual(r, EXPECTED);
          // The work really was spread: more than one host has active agents. Five agent ids can
          // all hash to one of three hosts (1 run in 81); twelve more workers make that negligible.
          for (let i = 10; i < 22; i++)
            assert.deepEqual(await client.gateway.request(`worker/${i}`, 'square', { n: i }), {
              n: i,
              square: i * i,
              by: `worker/${i}`,
            });
          await new Promise((res) => setTimeout(res, 1_500));
          const busy = (await client.gateway.hosts()).filter(
            (h) => hostIds.includes(h.info.id) && h.info.active > 0,
          );
          assert.ok(busy.length >= 2, `agents ran on ${busy.length} of the 3 hosts`);
          // Each agent instance got its workflow on the control task queue (no control worker runs
          // here, so they wait to run; hosted-workflow.test.ts runs them).
          for (const agentId of ['coordinator/c1', 'ledger/main', 'worker/0', 'worker/2']) {
            const description = await eventually(
              () =>
                temporal.workflow
                  .getHandle(hostedAgentWorkflowId(agentId))
                  .describe()
                  .catch(() => undefined),
              `the hosted workflow of ${agentId}`,
            );
            assert.equal(description.taskQueue, controlQueue);
          }
        } finally {
          await stopAll(workers);
          await cluster.close();
          for await (const w of temporal.workflow.list({ query: `TaskQueue = '${controlQueue}'` }))
            await temporal.workflow.getHandle(w.workflowId).terminate('test done');
        }
        for (const id of hostIds)
          assert.deepEqual(containersNamed(`ars-agent-${id}`), [], `no container left on ${id}`);
      },
    );
  }
});
