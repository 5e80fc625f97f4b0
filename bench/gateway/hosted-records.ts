/**
 * What the hosted agent records cost (docs/gateway.md, "Every hosted agent has a workflow"): N SDK
 * agent instances are activated on a gateway (one request each, 32 in flight), once with records
 * off and once with the gateway reporting to each instance's workflow (a real control worker on a
 * fresh task queue runs them). Printed: the activation time of both (records must not slow the
 * messages), and the time until every record is Running (the workflow starts the reports cost).
 * Run: `npx tsx bench/gateway/hosted-records.ts` (services up). Env: BENCH_AGENTS (default 500).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { compileSettings } from '../../src/config/index.js';
import { startGatewayNode, runtimeLocation } from '../../src/gateway/index.js';
import { defineAgent } from '../../src/sdk/index.js';
import { randomId } from '../../src/util/ids.js';
import { silentLogger } from '../../src/util/logger.js';
import { deleteKeys } from '../../test/helpers/runtime.js';
import {
  connect,
  createControlWorker,
  installQuietRuntime,
  WorkflowLifecycleReporter,
} from '../../workers/index.js';
import { intFromEnv } from '../env.js';

const N = intFromEnv('BENCH_AGENTS', 500, 1);
const counter = defineAgent({
  type: 'counter',
  state: z.object({ n: z.number().int() }).default({ n: 0 }),
  messages: { incr: z.object({}) },
  handlers: {
    incr: (_, ctx) => {
      ctx.state.set({ n: ctx.state.get().n + 1 });
      return ctx.state.get().n;
    },
  },
});

async function activateAll(request: (id: string) => Promise<unknown>, tag: string): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < N) await request(`counter/${tag}-${next++}`);
    }),
  );
  return performance.now() - t0;
}

installQuietRuntime();
// compileSettings() finds the checkout from dist/; from source (tsx), name its folders here.
const root = fileURLToPath(new URL('../../', import.meta.url));
process.env.ARS_HOME ??= `${root}.ars`;
process.env.ARS_POLICY_DIR ??= `${root}policies/default`;
const settings = compileSettings({
  hostId: randomId('bench-hosted'),
  controlTaskQueue: randomId('bench-hosted-control'),
  auditPrefix: randomId('bench-hosted-audit'),
  busPrefix: randomId('bench-hosted-bus'),
});
const connection = await connect(settings);
const control = await createControlWorker({
  settings,
  logger: silentLogger,
  connection: connection.native,
  client: connection.client,
});
const running = control.run();
const reporter = new WorkflowLifecycleReporter({
  client: connection.client,
  taskQueue: settings.controlTaskQueue,
  logger: silentLogger,
});
const plain = await startGatewayNode({ ...runtimeLocation(settings), agents: [counter] });
const recorded = await startGatewayNode({
  ...runtimeLocation(settings),
  agents: [counter],
  lifecycle: reporter,
  gateway: { id: randomId('gw') },
});
try {
  console.log(
    `# hosted agent records: ${N} activations, 32 requests in flight (node ${process.version}); shared 2-core machine: noisy`,
  );
  const off = await activateAll((id) => plain.gateway.request(id, 'incr', {}), 'off');
  const t0 = performance.now();
  const on = await activateAll((id) => recorded.gateway.request(id, 'incr', {}), 'on');
  console.log(`activations, records off: ${off.toFixed(0)} ms (${((N * 1000) / off).toFixed(0)}/s)`);
  console.log(
    `activations, records on:  ${on.toFixed(0)} ms (${((N * 1000) / on).toFixed(0)}/s)  (the messages do not wait for the records)`,
  );
  const query = `TaskQueue = '${settings.controlTaskQueue}' AND ArsState = 'Running'`;
  for (;;) {
    const { count } = await connection.client.workflow.count(query);
    if (count >= N) break;
    if (performance.now() - t0 > 30 * 60_000)
      throw new Error(`only ${count}/${N} records Running after 30 min`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const all = performance.now() - t0;
  console.log(
    `every record Running: ${(all / 1000).toFixed(1)} s after the first activation (${((N * 1000) / all).toFixed(1)} records/s; reports sent ${reporter.counts.sent}, dropped ${reporter.counts.dropped})`,
  );
} finally {
  await recorded.close();
  await plain.close();
  await reporter.close();
  control.worker.shutdown();
  await running;
  const open = `TaskQueue = '${settings.controlTaskQueue}' AND ExecutionStatus = 'Running'`;
  for await (const w of connection.client.workflow.list({ query: open }))
    await connection.client.workflow
      .getHandle(w.workflowId)
      .terminate('bench done')
      .catch(() => undefined);
  await connection.close();
  await deleteKeys(settings.redisUrl, `${settings.auditPrefix}*`);
  await deleteKeys(settings.redisUrl, `${settings.busPrefix}*`);
}
