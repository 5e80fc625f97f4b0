import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomId } from '../../src/util/ids.js';
import { eventually, startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process.js';

describe('worker killed with SIGKILL while an agent runs', () => {
  // The in-process runtime only supplies the client and Docker: no workers run in this process.
  let runtime: TestRuntime;
  const workers: WorkerProcess[] = [];
  before(async () => {
    runtime = await startTestRuntime({ workers: false });
  });
  after(async () => {
    for (const worker of workers) await worker.stop();
    await runtime.stop();
  });

  test('a fresh worker finishes the agent; the task is not run twice; no container leaks', async () => {
    const env = {
      ARS_HOST_ID: runtime.settings.hostId,
      ARS_CONTROL_TASK_QUEUE: runtime.settings.controlTaskQueue,
      ARS_AUDIT_PREFIX: runtime.settings.auditPrefix,
    };
    const first = await startWorkerProcess(env);
    workers.push(first);
    const id = randomId('crash');
    await runtime.ars.createAgent({
      id,
      name: 'survivor',
      sandbox: { command: ['sh', '-c', 'echo begin; sleep 4; echo end'] },
    });
    const running = await eventually(async () => {
      const status = await runtime.ars.status(id);
      return status.state === 'Running' && status.currentTask?.containerId ? status : undefined;
    }, 'agent Running in a container');
    const containerId = running.currentTask?.containerId;

    first.child.kill('SIGKILL');
    assert.equal((await first.exited).signal, 'SIGKILL');
    // The container outlives the worker; nobody is watching it now.
    assert.equal((await runtime.containers()).length, 1);

    const second = await startWorkerProcess(env);
    workers.push(second);
    const result = await runtime.ars.result(id);
    assert.equal(result.state, 'Terminated');
    assert.equal(result.result?.outcome, 'succeeded');
    assert.equal(result.result?.stdout, 'begin\nend\n', 'the same container ran once, start to end');
    const status = await runtime.ars.status(id);
    assert.equal(status.history.filter((t) => t.to === 'Running').length, 1);
    assert.ok(containerId);
    assert.deepEqual(await runtime.containers(), []);
  });
});
