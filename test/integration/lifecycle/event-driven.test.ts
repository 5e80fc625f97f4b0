/**
 * Event-driven agents on the real Temporal, Redis and Docker: a publish on the agent's topic (from
 * any gateway of the runtime, here a client one) starts or wakes its workflow by signal-with-start;
 * each event runs one task in a fresh sandbox with the event in its environment; after its idle
 * timeout the agent hibernates (the workflow ends, the trigger stays) and the next event starts it
 * again; an operator's terminate removes the trigger for good.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError } from '../../../src/config/index.js';
import { runtimeLocation, startGatewayNode, type GatewayNode } from '../../../src/gateway/index.js';
import { randomId } from '../../../src/util/ids.js';
import { agentWorkflowId } from '../../../workflows/definitions.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

describe('event-driven agent', () => {
  let runtime: TestRuntime;
  let client: GatewayNode;
  before(async () => {
    runtime = await startTestRuntime();
    client = await startGatewayNode({
      ...runtimeLocation(runtime.settings),
      gateway: { id: randomId('client') },
    });
  });
  after(async () => {
    await client.close();
    await runtime.stop();
  });

  test('an event starts it, each event runs a task, idle → hibernated, the next event wakes it', async () => {
    const id = randomId('evt');
    const topic = `orders.${id}`;
    await runtime.ars.createAgent({
      id,
      name: 'order-handler',
      mode: 'event-driven',
      trigger: { topic, idleTimeoutMs: 2_000 },
      sandbox: { command: ['sh', '-c', 'echo "$ARS_EVENT_TOPIC $ARS_EVENT_TYPE $ARS_EVENT"'] },
    });
    await eventually(
      async () => ((await runtime.ars.status(id)).state === 'Ready' ? true : undefined),
      'Ready',
    );
    // The trigger is subscribed once the agent is Ready: the publish reaches it.
    await eventually(
      async () => {
        const r = await client.gateway.publish(topic, 'order.new', { order: 1 });
        return r.deliveredTo.length === 1 ? r : undefined;
      },
      'the trigger to be subscribed',
      10_000,
    );
    const first = await runtime.ars.waitForTask(id, 1);
    assert.equal(first.outcome, 'succeeded');
    assert.equal(first.stdout.trim(), `${topic} order.new {"order":1}`);
    // Idle for 2 s → hibernated: the workflow ended, no container is left.
    const ended = await runtime.ars.result(id);
    assert.equal(ended.reason, 'hibernated');
    assert.equal(ended.state, 'Terminated');
    assert.deepEqual(await runtime.containers(), []);
    // The next event starts a new run of the same workflow (signal-with-start), which runs it.
    const woke = await client.gateway.publish(topic, 'order.new', { order: 2 });
    assert.deepEqual(woke.deliveredTo, [`trigger/${id}`]);
    await eventually(async () => {
      const s = await runtime.ars.status(id);
      return s.results.some((r) => r.stdout.includes('"order":2')) ? s : undefined;
    }, 'the woken agent to run the second event');
    const runs = [];
    for await (const e of runtime.ars.temporal.workflow.list({
      query: `WorkflowId = '${agentWorkflowId(id)}'`,
    }))
      runs.push(e.runId);
    assert.ok(runs.length >= 2, `two runs of the agent's workflow (${runs.length})`);
    // An operator's terminate ends it for good: the trigger is removed.
    await runtime.ars.terminate(id, 'test done');
    await eventually(
      async () => ((await runtime.ars.status(id)).state === 'Terminated' ? true : undefined),
      'Terminated',
    );
    await eventually(
      async () =>
        (await client.gateway.publish(topic, 'order.new', {})).deliveredTo.length === 0 ? true : undefined,
      'the trigger to be removed',
      10_000,
    );
  });

  test('a bad trigger is refused with the field named, and nothing is created', async () => {
    const id = randomId('evt');
    for (const bad of [
      { mode: 'event-driven', sandbox: { command: ['true'] } },
      { mode: 'event-driven', trigger: { topic: 'has space' }, sandbox: { command: ['true'] } },
      { mode: 'persistent', trigger: { topic: 'x' } },
      { mode: 'event-driven', trigger: { topic: 'x', idleTimeoutMs: 5 }, sandbox: { command: ['true'] } },
    ]) {
      await assert.rejects(runtime.ars.createAgent({ id, name: 'bad', ...bad }), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /trigger/);
        return true;
      });
    }
    await assert.rejects(runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).describe());
  });
});
