import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AgentFailedError } from '../../../src/client/index.js';
import { randomId } from '../../../src/util/ids.js';
import { agentWorkflowId } from '../../../workflows/definitions.js';
import { eventually, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

describe('sandbox hardening and limits', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(async () => {
    await runtime.stop();
  });

  test('the container has the hardened defaults and the agent limits', async () => {
    const id = randomId('hard');
    await runtime.ars.createAgent({
      id,
      name: 'inspected',
      resources: { memoryMb: 96, cpus: 0.5, pidsLimit: 32, timeoutMs: 60_000 },
      sandbox: { command: ['sleep', '20'] },
    });
    const status = await eventually(async () => {
      const s = await runtime.ars.status(id);
      return s.currentTask?.containerId ? s : undefined;
    }, 'container');
    const info = await runtime.docker.getContainer(status.currentTask?.containerId ?? '').inspect();
    const host = info.HostConfig;
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(host.PidsLimit, 32);
    assert.equal(host.Memory, 96 * 1024 * 1024);
    assert.equal(host.MemorySwap, host.Memory, 'no swap: memory = memory + swap');
    assert.equal(host.NanoCpus, 0.5e9);
    assert.equal(host.NetworkMode, 'none');
    assert.equal(info.Config.User, '10001:10001');
    assert.ok(host.Tmpfs && '/tmp' in host.Tmpfs && '/scratch' in host.Tmpfs);
    await runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).cancel();
    await assert.rejects(runtime.ars.result(id));
    await eventually(
      async () => ((await runtime.containers()).length === 0 ? true : undefined),
      'cleanup after cancel',
    );
  });

  test('inside, the root is read-only, there is no network, the user is not root, scratch is writable', async () => {
    const id = randomId('hard');
    const probe = `
      const fs = require('fs'); const out = {};
      try { fs.writeFileSync('/etc/x', 'y'); out.rootWrite = 'ok'; } catch (e) { out.rootWrite = e.code; }
      fs.writeFileSync('/scratch/x', 'y'); out.scratch = fs.readFileSync('/scratch/x', 'utf8');
      out.uid = process.getuid();
      out.interfaces = Object.keys(require('os').networkInterfaces());
      console.log(JSON.stringify(out));`;
    await runtime.ars.createAgent({ id, name: 'prober', sandbox: { command: ['node', '-e', probe] } });
    const { result } = await runtime.ars.result(id);
    assert.equal(result?.exitCode, 0, result?.stderr);
    const seen = JSON.parse(result?.stdout ?? '{}') as Record<string, unknown>;
    assert.equal(seen.rootWrite, 'EROFS');
    assert.equal(seen.scratch, 'y');
    assert.equal(seen.uid, 10001);
    assert.deepEqual(seen.interfaces, ['lo']);
  });

  test('the wall-clock limit kills the container itself', async () => {
    const id = randomId('slow');
    const started = Date.now();
    await runtime.ars.createAgent({
      id,
      name: 'sleeper',
      resources: { timeoutMs: 1500 },
      sandbox: { command: ['sleep', '60'] },
    });
    const { result } = await runtime.ars.result(id);
    assert.equal(result?.outcome, 'timed_out');
    assert.equal(result?.exitCode, 137);
    assert.ok(Date.now() - started < 20_000, 'killed near its limit, not after the command ended');
    assert.deepEqual(await runtime.containers(), []);
  });

  test('the memory limit is enforced by the kernel', async () => {
    const id = randomId('oom');
    await runtime.ars.createAgent({
      id,
      name: 'hog',
      resources: { memoryMb: 48 },
      sandbox: { command: ['node', '-e', 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));'] },
    });
    const { result } = await runtime.ars.result(id);
    assert.equal(result?.outcome, 'oom_killed');
    assert.notEqual(result?.exitCode, 0);
  });

  test('gVisor tier runs under runsc', async () => {
    const id = randomId('gv');
    await runtime.ars.createAgent({
      id,
      name: 'visor',
      tier: 'gvisor',
      sandbox: { command: ['sh', '-c', 'sleep 2; echo inside gvisor'] },
    });
    const status = await eventually(async () => {
      const s = await runtime.ars.status(id);
      return s.currentTask?.containerId ? s : undefined;
    }, 'container');
    const info = await runtime.docker.getContainer(status.currentTask?.containerId ?? '').inspect();
    assert.equal(info.HostConfig.Runtime, 'runsc');
    const { result } = await runtime.ars.result(id);
    assert.equal(result?.stdout, 'inside gvisor\n');
    assert.deepEqual(await runtime.containers(), []);
  });

  test('an unavailable tier fails initialization clearly and creates no container', async () => {
    const id = randomId('fc');
    await runtime.ars.createAgent({ id, name: 'cracker', risk: 'high', sandbox: { command: ['true'] } });
    await assert.rejects(runtime.ars.result(id), (error: unknown) => {
      assert.ok(error instanceof AgentFailedError);
      assert.match(error.message, /tier 'firecracker' is not available on this host/);
      return true;
    });
    const status = await runtime.ars.status(id);
    assert.deepEqual(
      status.history.map((t) => t.to),
      ['Failed', 'Terminated'],
    );
    assert.deepEqual(await runtime.containers(), []);
  });

  test('a missing image fails initialization with the fix', async () => {
    const id = randomId('img');
    await runtime.ars.createAgent({
      id,
      name: 'imageless',
      sandbox: { image: 'ars-no-such-image:never', command: ['true'] },
    });
    await assert.rejects(
      runtime.ars.result(id),
      /sandbox image 'ars-no-such-image:never' is not on this host/,
    );
  });

  test('the reaper removes containers of workflows that ended without cleanup', async () => {
    const id = randomId('orphan');
    await runtime.ars.createAgent({ id, name: 'orphan', sandbox: { command: ['sleep', '60'] } });
    await eventually(
      async () => ((await runtime.ars.status(id)).currentTask?.containerId ? true : undefined),
      'container',
    );
    // A hard terminate from Temporal runs no workflow code: the container is left behind...
    await runtime.ars.temporal.workflow.getHandle(agentWorkflowId(id)).terminate('hard stop');
    assert.equal((await runtime.containers()).length, 1);
    // ...until the host's reaper sees the workflow is closed.
    const reaped = (await runtime.host?.reap()) ?? [];
    assert.equal(reaped.length, 1);
    assert.deepEqual(await runtime.containers(), []);
  });
});
