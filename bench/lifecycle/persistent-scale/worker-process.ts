/**
 * Child process of the persistent-scale bench, so that its RSS is the worker's alone. Role `agents`:
 * an ARS control worker and host worker (the standalone runtime); role `raw`: a worker of the raw
 * idle workflow only. Configured by the BENCH_WORKER JSON variable; talks to the parent over IPC:
 * it sends `ready`, and answers `sweep` (one policy re-check of every live agent), `memory` and
 * `stop`.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from '@temporalio/worker';
import { compileSettings } from '../../../src/config/index.js';
import { createLogger } from '../../../src/util/logger.js';
import {
  connect,
  createControlWorker,
  createHostWorker,
  installQuietRuntime,
  type ControlWorkerTuning,
} from '../../../workers/index.js';

export interface WorkerProcessConfig {
  readonly role: 'agents' | 'raw';
  readonly hostId: string;
  readonly controlTaskQueue: string;
  readonly auditPrefix: string;
  readonly rawTaskQueue: string;
  readonly tuning: ControlWorkerTuning;
  readonly enforceIntervalMs: number;
}

export type ParentMessage = { type: 'sweep' } | { type: 'memory' } | { type: 'stop' };
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'swept'; signalled: number; ms: number }
  | { type: 'memory'; rss: number; heapUsed: number; external: number }
  | { type: 'error'; message: string };

const config = JSON.parse(process.env.BENCH_WORKER ?? '') as WorkerProcessConfig;
const send = (message: ChildMessage) => process.send?.(message);

installQuietRuntime('ERROR');
const logger = createLogger({ level: 'error' });
const settings = compileSettings({
  hostId: config.hostId,
  controlTaskQueue: config.controlTaskQueue,
  auditPrefix: config.auditPrefix,
});
const connection = await connect(settings);
const deps = { settings, logger, connection: connection.native, client: connection.client };

let stopping = false;
let stop: () => void;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  stop();
};
let running: Promise<unknown>;
let sweep: (() => Promise<number>) | undefined;
if (config.role === 'agents') {
  const control = await createControlWorker({
    ...deps,
    tuning: config.tuning,
    enforceIntervalMs: config.enforceIntervalMs,
  });
  const host = await createHostWorker(deps);
  sweep = () => control.enforcer.sweep();
  running = Promise.all([control.run(), host.run()]);
  stop = () => {
    control.worker.shutdown();
    host.worker.shutdown();
  };
} else {
  const worker = await Worker.create({
    connection: connection.native,
    namespace: settings.namespace,
    taskQueue: config.rawTaskQueue,
    workflowsPath: fileURLToPath(new URL('./raw-workflow.ts', import.meta.url)),
    ...config.tuning,
  });
  running = worker.run();
  stop = () => worker.shutdown();
}

process.on('message', (message: ParentMessage) => {
  if (message.type === 'memory') {
    const { rss, heapUsed, external } = process.memoryUsage();
    send({ type: 'memory', rss, heapUsed, external });
  } else if (message.type === 'sweep' && sweep) {
    const started = performance.now();
    sweep().then(
      (signalled) => send({ type: 'swept', signalled, ms: performance.now() - started }),
      (error: unknown) => send({ type: 'error', message: String(error) }),
    );
  } else if (message.type === 'stop') {
    shutdown();
  }
});
// The parent going away (even killed) stops the worker.
process.on('disconnect', () => shutdown());

send({ type: 'ready' });
try {
  await running;
} finally {
  await connection.close();
  process.disconnect?.();
}
