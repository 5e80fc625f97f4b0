/**
 * Every SDK agent instance hosted by a host worker's gateway has a workflow (`hosted-<agent id>`)
 * that the gateway reports its lifecycle to, against the real Temporal, Redis and Docker: the agent
 * is activated (Running), hibernates when idle (Waiting; its sandbox stops), wakes with its state,
 * and when its sandbox is killed the death is reported to the workflow (Waiting, audited) and the
 * next message restarts it from its last checkpoint. Malformed reports are refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { HostedAgentStatus } from '../../../workflows/hosted-agent-definitions.js';
import { hostedAgentWorkflowId, lifecycleReportSignal } from '../../../workflows/hosted-agent-definitions.js';
import { terminateSignal } from '../../../workflows/definitions.js';
import { randomId } from '../../../src/util/ids.js';
import { silentLogger } from '../../../src/util/logger.js';
import { connect, startHostGateway, type HostGateway } from '../../../workers/index.js';
import { SUBJECT_MODULE } from '../../conformance/harness.js';
import { dockerProblem } from '../../helpers/docker.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

const noDocker = dockerProblem();

describe('hosted agent workflows', { skip: noDocker }, () => {
  let rt: TestRuntime;
  let temporal: { client: Client; close(): Promise<void> };
  let host: HostGateway | undefined;
  before(async () => {
    rt = await startTestRuntime();
    temporal = await connect(rt.settings);
  });
  after(async () => {
    await host?.close();
    await temporal.close();
    await rt.stop();
  });

  const status = (agentId: string): Promise<HostedAgentStatus> => rt.ars.hostedStatus(agentId);
  const until = (agentId: string, what: string, ok: (s: HostedAgentStatus) => boolean) =>
    eventually(async () => {
      const s = await status(agentId);
      return ok(s) ? s : undefined;
    }, what);

  test('activation, hibernation, a killed sandbox and the restart are reported to the agent workflow', async () => {
    host = await startHostGateway({
      settings: rt.settings,
      logger: silentLogger,
      agents: [SUBJECT_MODULE],
      tier: 'docker',
      idleTimeoutMs: 1_500,
      temporal: temporal.client,
    });
    const gateway = host.node.gateway;
    const agent = `subject/${randomId('k')}`;
    const containers = async () =>
      (await rt.docker.listContainers({ all: true })).filter((c) =>
        c.Names.some((n) => n.startsWith(`/ars-agent-${rt.settings.hostId}-subject-`)),
      );

    // activated: the record is created on the first report, and the agent is Running there
    assert.equal(await gateway.request(agent, 'incr', { by: 5 }), 5);
    let s = await until(agent, 'the agent Running on the gateway', (x) => x.state === 'Running');
    assert.equal(s.gatewayId, rt.settings.hostId);
    assert.equal(s.activations, 1);
    // operators find it with `ars ps` (mode hosted, on this gateway)
    const listed = await eventually(
      async () =>
        (await rt.ars.list({ name: 'subject' })).find(
          (a) => a.agentId === agent && a.host === rt.settings.hostId,
        ),
      'the hosted agent in the agent list',
    );
    assert.equal(listed.mode, 'hosted');
    assert.equal(listed.workflowId, hostedAgentWorkflowId(agent));

    // idle → hibernated: state checkpointed, the sandbox stopped, the workflow waits
    s = await until(agent, 'the agent to hibernate', (x) => x.state === 'Waiting');
    assert.equal(s.hibernations, 1);
    assert.match(s.history.at(-1)?.reason ?? '', /hibernated on gateway .* \(idle for 1500 ms\)/);
    await eventually(
      async () => ((await containers()).length === 0 ? true : undefined),
      'the sandbox to stop',
    );

    // the next message wakes it with its state, in a new sandbox
    assert.equal(await gateway.request(agent, 'incr', { by: 1 }), 6);
    s = await until(agent, 'the agent Running again', (x) => x.state === 'Running' && x.activations === 2);
    const [box] = await containers();
    assert.ok(box, 'a sandbox runs the agent');

    // the sandbox dies: the gateway reports it to the agent's workflow, which records and audits it
    await rt.docker.getContainer(box.Id).kill();
    s = await until(agent, 'the process exit to be reported', (x) => x.exits === 1);
    assert.equal(s.state, 'Waiting');
    assert.match(s.history.at(-1)?.reason ?? '', /agent process died on gateway .*last checkpoint/);
    const exited = s.reports.at(-1);
    assert.equal(exited?.kind, 'exited');
    assert.match(exited?.reason ?? '', /exit/i);

    // the next message starts a new sandbox, restored from the checkpoint taken at hibernation (5)
    assert.equal(await gateway.request(agent, 'incr', { by: 1 }), 6, 'state falls back to the checkpoint');
    s = await until(agent, 'the agent Running after the restart', (x) => x.state === 'Running');
    assert.equal(s.activations, 3);

    // the audit trail has the whole story, and its chain verifies
    const audit = rt.control?.audit;
    assert.ok(audit);
    await eventually(async () => {
      const entries = await audit.query({ agentId: agent });
      const kinds = entries.map((e) => e.kind);
      return kinds.filter((k) => k === 'agent.started').length === 3 &&
        kinds.includes('agent.created') &&
        kinds.includes('agent.suspended') &&
        entries.some(
          (e) => e.kind === 'security.event' && (e.data as { type?: string }).type === 'agent_process_exited',
        )
        ? true
        : undefined;
    }, 'the audit entries');
    assert.equal((await audit.verify()).ok, true);

    // a gateway shutting down hibernates its agents: the workflow hears of it
    await host.close();
    host = undefined;
    s = await until(agent, 'the shutdown hibernation', (x) => x.state === 'Waiting' && x.hibernations === 2);
    assert.match(s.history.at(-1)?.reason ?? '', /its gateway shut down/);
    await eventually(
      async () => ((await containers()).length === 0 ? true : undefined),
      'no sandbox left (the killed one included)',
      15_000,
    );

    // terminate ends the record
    const handle = temporal.client.workflow.getHandle(hostedAgentWorkflowId(agent));
    await handle.signal(terminateSignal, 'test done');
    const final = (await handle.result()) as HostedAgentStatus;
    assert.equal(final.state, 'Terminated');
  });

  test('a malformed report is refused and changes nothing', async () => {
    const agent = `subject/${randomId('k')}`;
    const handle = await temporal.client.workflow.signalWithStart('hostedAgentWorkflow', {
      workflowId: hostedAgentWorkflowId(agent),
      taskQueue: rt.settings.controlTaskQueue,
      args: [{ agentId: agent, agentType: 'subject' }],
      signal: lifecycleReportSignal,
      signalArgs: [
        { kind: 'exploded', agentId: agent, agentType: 'subject', gatewayId: 'gw', at: 1 } as never,
      ],
    });
    await handle.signal(lifecycleReportSignal, {
      kind: 'activated',
      agentId: 'subject/someone-else',
      agentType: 'subject',
      gatewayId: 'gw',
      at: 2,
    });
    const s = await until(agent, 'both reports refused', (x) => x.refused.length === 2);
    assert.match(s.refused[0]?.message ?? '', /kind must be activated, hibernated or exited, got exploded/);
    assert.match(s.refused[1]?.message ?? '', /the report is about subject\/someone-else/);
    assert.equal(s.state, 'Ready');
    assert.equal(s.activations, 0);

    // a retried report (the same one again, or an older one from the same gateway) changes nothing;
    // a report from another gateway applies even if that gateway's clock is behind
    const report = { agentId: agent, agentType: 'subject', gatewayId: 'gw-a', at: 1_000 } as const;
    await handle.signal(lifecycleReportSignal, { ...report, kind: 'activated' });
    await handle.signal(lifecycleReportSignal, { ...report, kind: 'activated' });
    await handle.signal(lifecycleReportSignal, { ...report, kind: 'hibernated', at: 999 });
    await handle.signal(lifecycleReportSignal, { ...report, kind: 'activated', gatewayId: 'gw-b', at: 500 });
    const moved = await until(agent, 'the report from gw-b', (x) => x.gatewayId === 'gw-b');
    assert.equal(moved.activations, 2);
    assert.equal(moved.hibernations, 0);
    assert.equal(moved.state, 'Running');
    await handle.signal(terminateSignal, 'test done');
    await handle.result();
  });
});
