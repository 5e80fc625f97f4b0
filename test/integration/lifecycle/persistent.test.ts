import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentStateError, TaskRejectedError } from '../../../src/client/index.js';
import { SEARCH_ATTRIBUTES } from '../../../src/lifecycle/search-attributes.js';
import { canTransition } from '../../../src/lifecycle/states.js';
import { randomId } from '../../../src/util/ids.js';
import { agentWorkflowId, resumeSignal, type AgentStatus } from '../../../workflows/definitions.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

function assertLegalHistory(status: AgentStatus): void {
  for (const step of status.history) {
    assert.ok(canTransition(step.from, step.to), `illegal transition in history: ${step.from} → ${step.to}`);
  }
  for (let i = 1; i < status.history.length; i++) {
    assert.equal(status.history[i]?.from, status.history[i - 1]?.to, 'history is a chain');
  }
}

describe('persistent agent', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(async () => {
    await runtime.stop();
  });

  const stateOf = async (id: string) => (await runtime.ars.status(id)).state;
  const searchState = async (id: string) => {
    const description = await runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).describe();
    return description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.state);
  };

  test('assigned a task, suspended (container paused), resumed, terminated', async () => {
    const id = randomId('per');
    await runtime.ars.createAgent({ id, name: 'worker-bee', mode: 'persistent' });
    await eventually(async () => ((await stateOf(id)) === 'Ready' ? true : undefined), 'Ready');

    // Requests that do not apply to a Ready agent are refused, and nothing changes.
    await assert.rejects(runtime.ars.suspend(id), (error: unknown) => {
      assert.ok(error instanceof AgentStateError);
      assert.match(
        error.message,
        /cannot suspend agent '.*': it is Ready; suspend applies only to an agent that is Running or Waiting/,
      );
      return true;
    });
    // A raw signal that bypasses the client check is rejected by the workflow itself.
    await runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).signal(resumeSignal, 'sneaky');
    const afterRaw = await eventually(async () => {
      const status = await runtime.ars.status(id);
      return status.rejected.length > 0 ? status : undefined;
    }, 'rejection recorded');
    assert.equal(afterRaw.state, 'Ready');
    assert.equal(afterRaw.rejected[0]?.request, 'resume');

    const assignment = await runtime.ars.assignTask(id, {
      command: ['sh', '-c', 'echo started; sleep 30; echo finished'],
    });
    assert.equal(assignment.seq, 1);
    const running = await eventually(async () => {
      const status = await runtime.ars.status(id);
      return status.state === 'Running' && status.currentTask?.containerId ? status : undefined;
    }, 'Running with a container');
    const containerId = running.currentTask?.containerId ?? '';
    const container = runtime.docker.getContainer(containerId);

    // Only a Ready agent takes a task.
    await assert.rejects(runtime.ars.assignTask(id, { command: ['true'] }), (error: unknown) => {
      assert.ok(error instanceof TaskRejectedError);
      assert.match(error.message, /tasks are assigned only to a Ready agent/);
      return true;
    });

    await runtime.ars.suspend(id, 'operator pause');
    await eventually(async () => ((await stateOf(id)) === 'Suspended' ? true : undefined), 'Suspended');
    assert.equal((await container.inspect()).State.Paused, true);
    await eventually(
      async () => ((await searchState(id)) === 'Suspended' ? true : undefined),
      'search attribute Suspended',
    );

    await runtime.ars.resume(id, 'operator resume');
    await eventually(async () => ((await stateOf(id)) === 'Running' ? true : undefined), 'Running again');
    const resumed = await container.inspect();
    assert.equal(resumed.State.Paused, false);
    assert.equal(resumed.State.Running, true);

    await runtime.ars.terminate(id, 'done with it');
    const result = await runtime.ars.result(id);
    assert.equal(result.state, 'Terminated');
    assert.equal(result.result?.outcome, 'terminated');
    await assert.rejects(container.inspect(), /no such container/i);

    const status = await runtime.ars.status(id);
    assertLegalHistory(status);
    assert.deepEqual(
      status.history.map((t) => t.to),
      ['Ready', 'Running', 'Suspended', 'Running', 'Terminated'],
    );
    assert.equal(await searchState(id), 'Terminated');
    assert.deepEqual(await runtime.containers(), []);
  });

  test('runs tasks one after another and continues-as-new with its state', async () => {
    const id = randomId('per');
    await runtime.ars.createAgent({ id, name: 'roller', mode: 'persistent', tasksPerRun: 2 });
    await eventually(async () => ((await stateOf(id)) === 'Ready' ? true : undefined), 'Ready');
    const handle = runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id));
    const firstRun = (await handle.describe()).runId;
    for (let n = 1; n <= 3; n++) {
      const { seq } = await runtime.ars.assignTask(id, { command: ['sh', '-c', `echo task-${n}`] });
      const result = await runtime.ars.waitForTask(id, seq);
      assert.equal(result.stdout, `task-${n}\n`);
      await eventually(
        async () => ((await stateOf(id)) === 'Ready' ? true : undefined),
        `Ready after task ${n}`,
      );
    }
    const status = await runtime.ars.status(id);
    assert.equal(status.tasksCompleted, 3);
    assert.equal(status.runs, 1, 'continued as new once after 2 tasks');
    assert.notEqual((await handle.describe()).runId, firstRun);
    assert.deepEqual(
      status.results.map((r) => r.stdout),
      ['task-1\n', 'task-2\n', 'task-3\n'],
    );
    assertLegalHistory(status);
    await runtime.ars.terminate(id);
    assert.equal((await runtime.ars.result(id)).state, 'Terminated');
    assert.deepEqual(await runtime.containers(), []);
  });
});
