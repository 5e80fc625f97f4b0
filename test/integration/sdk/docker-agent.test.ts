/**
 * The same handler module (examples/agents/fan-out) runs unchanged inside the hardened sandbox
 * container (ars-sandbox:local: read-only root, no capabilities, no network, uid 10001), spoken to
 * over the stdio protocol through `docker run -i`, and gives the in-process results.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { dockerAgentCommand, StdioAgentConnection } from '../../../src/agent-host/index.js';
import { createInProcessRuntime } from '../../../src/sdk/index.js';
import { randomId } from '../../../src/util/ids.js';
import type * as FanOut from '../../../examples/agents/fan-out.js';
import { dockerProblem } from '../../helpers/docker.js';

type FanOutModule = typeof FanOut;

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const ROOT = fileURLToPath(new URL(ext === '.ts' ? '../../../' : '../../../../', import.meta.url));
const MAIN = fileURLToPath(new URL(`../../../src/agent-host/main${ext}`, import.meta.url));
const EXAMPLE = fileURLToPath(new URL(`../../../examples/agents/fan-out${ext}`, import.meta.url));

const skip = dockerProblem();
if (skip) console.error(`SKIPPED docker agent test: ${skip}`);

describe('agent host in a hardened docker container', { skip }, () => {
  test('the fan-out example gives the in-process results with the worker type in a container', async () => {
    const name = randomId('ars-test-agent');
    // The checkout is mounted read-only at its own path, so the same paths (and tsx's loader when
    // the test runs from .ts) work inside the container; tsx caches in the tmpfs /tmp.
    const { command, args } = dockerAgentCommand({
      name,
      mounts: { [ROOT]: ROOT },
      command: [
        'node',
        ...process.execArgv.filter((a) => !a.startsWith('--test')),
        MAIN,
        '--module',
        EXAMPLE,
        '--type',
        'worker',
      ],
    });
    assert.ok(args.includes('--read-only') && args.includes('--cap-drop') && args.includes('none'));
    const connection = await StdioAgentConnection.spawn({
      command,
      args,
      containerName: name,
      helloTimeoutMs: 30_000,
    });
    const { coordinator, ledger } = (await import(EXAMPLE)) as FanOutModule;
    const runtime = createInProcessRuntime();
    try {
      await runtime.register(connection);
      await runtime.register(coordinator);
      await runtime.register(ledger);
      await runtime.subscribe('ledger/main', 'jobs.done');
      const result = await runtime.request('coordinator/c1', 'job', {
        id: 'd1',
        items: [1, 2, 3, 4, 5, 6, 7],
      });
      assert.deepEqual(result, { id: 'd1', sum: 140, byWorker: ['worker/0', 'worker/1', 'worker/2'] });
      assert.deepEqual(await runtime.request('ledger/main', 'list', {}), ['d1']);
      assert.deepEqual(await runtime.saveState('worker/0'), {
        v: 1,
        agentType: 'worker',
        state: { handled: 3 },
      });
      // The container really is hardened: inspect it while it runs.
      const inspect = JSON.parse(execFileSync('docker', ['inspect', name], { encoding: 'utf8' })) as {
        HostConfig: {
          ReadonlyRootfs: boolean;
          CapDrop: string[];
          NetworkMode: string;
          SecurityOpt: string[];
        };
        Config: { User: string };
      }[];
      const info = inspect[0];
      assert.ok(info);
      assert.equal(info.HostConfig.ReadonlyRootfs, true);
      assert.deepEqual(info.HostConfig.CapDrop, ['ALL']);
      assert.equal(info.HostConfig.NetworkMode, 'none');
      assert.equal(info.Config.User, '10001:10001');
      assert.ok(info.HostConfig.SecurityOpt.includes('no-new-privileges'));
    } finally {
      await runtime.close();
      await connection.whenExited();
      try {
        execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' }); // already gone with --rm: fine
      } catch {
        /* no such container */
      }
    }
  });
});
