/**
 * Histories written by today's agent workflow replay with today's code: admission as a local
 * activity (a marker, no activity task), a task in a container, termination; and an agent whose
 * image is missing (Failed → Terminated). Histories of the code before local admission are replayed
 * by test/unit/lifecycle/replay.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { randomId } from '../../../src/util/ids.js';
import { workflowSource } from '../../../workers/index.js';
import { agentWorkflowId } from '../../../workflows/definitions.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

type History = temporal.api.history.v1.IHistory;

const scheduledActivities = (history: History) =>
  (history.events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
const markers = (history: History) =>
  (history.events ?? []).flatMap((e) => e.markerRecordedEventAttributes?.markerName ?? []);

describe('agent workflow histories replay', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(async () => {
    await runtime.stop();
  });

  const history = (id: string) => runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).fetchHistory();
  const replay = (h: History, id: string) =>
    Worker.runReplayHistory({ ...workflowSource(), replayName: `replay-${id}` }, h, agentWorkflowId(id));

  test('a persistent agent admitted by a local activity, given a task, terminated', async () => {
    const id = randomId('replay');
    await runtime.ars.createAgent({ id, name: 'replayed', mode: 'persistent' });
    await eventually(
      async () => ((await runtime.ars.status(id)).state === 'Ready' ? true : undefined),
      'Ready',
    );
    const { seq } = await runtime.ars.assignTask(id, { command: ['echo', 'hi'], env: { A: '1' } });
    const result = await runtime.ars.waitForTask(id, seq, 120_000);
    assert.equal(result.stdout, 'hi\n');
    await runtime.ars.terminate(id, 'replay test done');
    await runtime.ars.result(id);

    const h = await history(id);
    // Admission left a local-activity marker and no activity task; the sandbox activities remain.
    assert.ok(!scheduledActivities(h).includes('admitAgent'), scheduledActivities(h).join(', '));
    assert.ok(scheduledActivities(h).includes('prepareSandbox'));
    assert.ok(markers(h).includes('core_local_activity'), markers(h).join(', '));
    assert.ok(markers(h).includes('core_patch'), markers(h).join(', '));
    await replay(h, id);
  });

  test('an agent whose image is missing (Failed → Terminated) replays', async () => {
    const id = randomId('replay-img');
    await runtime.ars.createAgent({
      id,
      name: 'imageless',
      sandbox: { image: 'ars-no-such-image:never', command: ['true'] },
    });
    await assert.rejects(
      runtime.ars.result(id),
      /sandbox image 'ars-no-such-image:never' is not on this host/,
    );
    const status = await runtime.ars.status(id);
    assert.deepEqual(
      status.history.map((t) => t.to),
      ['Failed', 'Terminated'],
    );
    await replay(await history(id), id);
  });
});
