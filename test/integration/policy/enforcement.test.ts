import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { AgentFailedError } from '../../../src/client/index.js';
import { randomId } from '../../../src/util/ids.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

const shippedPolicies = fileURLToPath(new URL('../../../../policies/default', import.meta.url));

/** A private copy of the default policy set that a test may edit. */
async function policyCopy(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ars-policies-'));
  await cp(shippedPolicies, dir, { recursive: true });
  return dir;
}

const forbidAgent = (id: string, name: string) => `
@id("${id}")
forbid (principal, action == Ars::Action::"CreateAgent", resource is Ars::Agent)
when { resource.name == "${name}" };
`;

describe('policy hooks wired into the lifecycle', () => {
  let runtime: TestRuntime;
  let policyDir: string;
  before(async () => {
    policyDir = await policyCopy();
    runtime = await startTestRuntime({ policyDir });
  });
  after(async () => {
    await runtime.stop();
    await rm(policyDir, { recursive: true, force: true });
  });

  const audit = () => {
    assert.ok(runtime.control);
    return runtime.control.audit;
  };

  test('a denied creation creates and allocates nothing, and the denial is audited with reasons', async () => {
    const name = randomId('blocked');
    await writeFile(join(policyDir, 'test-forbid-create.cedar'), forbidAgent('test.forbid-blocked', name));
    runtime.control?.policy.reload();
    const id = randomId('deny');
    await runtime.ars.createAgent({ id, name, sandbox: { command: ['echo', 'must not run'] } });
    await assert.rejects(runtime.ars.result(id), (error: unknown) => {
      assert.ok(error instanceof AgentFailedError);
      assert.match(error.message, /was denied by policy at creation: test\.forbid-blocked/);
      return true;
    });
    const status = await runtime.ars.status(id);
    assert.deepEqual(
      status.history.map((t) => t.to),
      ['Failed', 'Terminated'],
    );
    assert.deepEqual(await runtime.containers(), []);
    const entries = await audit().query({ agentId: id });
    const kinds = entries.map((e) => e.kind);
    assert.ok(!kinds.includes('resource.allocated'), 'nothing allocated');
    assert.ok(!kinds.includes('agent.created'), 'nothing created');
    assert.ok(!kinds.includes('agent.started'), 'nothing started');
    const denial = entries.find((e) => e.kind === 'policy.decision');
    assert.equal(denial?.data.decision, 'deny');
    assert.deepEqual(denial?.data.reasons, ['test.forbid-blocked']);
    assert.ok(kinds.includes('security.event'));
    assert.ok(kinds.includes('agent.terminated'), 'the after-termination hook ran and was audited');
    await unlink(join(policyDir, 'test-forbid-create.cedar'));
    runtime.control?.policy.reload();
  });

  test('an allowed agent leaves a full, verifiable audit trail', async () => {
    const id = randomId('ok');
    await runtime.ars.createAgent({ id, name: 'audited', sandbox: { command: ['echo', 'hi'] } });
    await runtime.ars.result(id);
    const kinds = await eventually(async () => {
      const entries = await audit().query({ agentId: id });
      const list = entries.map((e) => e.kind);
      return list.includes('agent.terminated') ? list : undefined;
    }, 'termination audited');
    for (const kind of [
      'policy.decision',
      'agent.created',
      'resource.allocated',
      'agent.started',
      'agent.terminated',
    ]) {
      assert.ok(kinds.includes(kind as never), `${kind} audited (got ${kinds.join(', ')})`);
    }
    const verified = await audit().verify();
    assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));
  });

  test('a broken policy file makes every decision deny, naming the file', async () => {
    const broken = join(policyDir, 'zz-broken.cedar');
    await writeFile(broken, 'permit (principal, action, resource) when { this is not cedar };\n');
    const status = runtime.control?.policy.reload();
    assert.equal(status?.ok, false);
    assert.match(status?.error ?? '', /zz-broken\.cedar/);
    const id = randomId('broken');
    await runtime.ars.createAgent({ id, name: 'innocent', sandbox: { command: ['echo', 'x'] } });
    await assert.rejects(runtime.ars.result(id), /denied by policy at creation: .*zz-broken\.cedar/);
    assert.deepEqual(await runtime.containers(), []);
    await unlink(broken);
    assert.equal(runtime.control?.policy.reload().ok, true);
  });

  test('a violation suspends a running agent; clearing it resumes the agent', async () => {
    const name = randomId('suspect');
    const id = randomId('viol');
    await runtime.ars.createAgent({ id, name, sandbox: { command: ['sh', '-c', 'sleep 8; echo survived'] } });
    const running = await eventually(async () => {
      const s = await runtime.ars.status(id);
      return s.state === 'Running' && s.currentTask?.containerId ? s : undefined;
    }, 'Running');
    const container = runtime.docker.getContainer(running.currentTask?.containerId ?? '');

    const file = join(policyDir, 'test-violation.cedar');
    await writeFile(file, forbidAgent('test.revoked', name));
    runtime.control?.policy.reload(); // the watcher would do this too; explicit keeps the test fast
    const suspended = await eventually(
      async () => {
        const s = await runtime.ars.status(id);
        return s.state === 'Suspended' ? s : undefined;
      },
      'Suspended by the enforcer',
      30_000,
    );
    assert.deepEqual(suspended.violation?.reasons, ['test.revoked']);
    assert.match(suspended.history.at(-1)?.reason ?? '', /^policy violation: test\.revoked/);
    assert.equal((await container.inspect()).State.Paused, true);

    // An operator cannot resume it while the violation stands.
    await runtime.ars.resume(id, 'operator tries');
    await eventually(
      async () =>
        (await runtime.ars.status(id)).rejected.some((r) => r.request === 'resume') ? true : undefined,
      'resume refused',
    );
    assert.equal((await runtime.ars.status(id)).state, 'Suspended');

    // Clearing relies on the engine's file watcher: policies reload without restarting the worker.
    const version = runtime.control?.policy.version ?? 0;
    await unlink(file);
    await eventually(
      () => ((runtime.control?.policy.version ?? 0) > version ? true : undefined),
      'watcher reload',
    );
    await eventually(
      async () => ((await runtime.ars.status(id)).state === 'Running' ? true : undefined),
      'resumed when cleared',
      30_000,
    );
    assert.equal((await container.inspect()).State.Paused, false);
    const { result } = await runtime.ars.result(id);
    assert.equal(result?.stdout, 'survived\n');
    const kinds = (await audit().query({ agentId: id })).map((e) => e.kind);
    assert.ok(kinds.includes('agent.suspended') && kinds.includes('agent.resumed'));
    assert.deepEqual(await runtime.containers(), []);
  });
});
