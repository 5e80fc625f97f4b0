import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AgentNotFoundError } from '../../src/client/index.js';
import { randomId } from '../../src/util/ids.js';
import { runCli } from '../helpers/cli.js';
import { eventually, startTestRuntime, type TestRuntime } from '../helpers/runtime.js';

describe('ars CLI against the real services', () => {
  let runtime: TestRuntime;
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    runtime = await startTestRuntime();
    dir = await mkdtemp(join(tmpdir(), 'ars-cli-'));
    env = { ARS_HOST_ID: runtime.settings.hostId, ARS_CONTROL_TASK_QUEUE: runtime.settings.controlTaskQueue };
  });
  after(async () => {
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const configFile = async (config: unknown) => {
    const file = join(dir, `${randomId('cfg')}.json`);
    await writeFile(file, JSON.stringify(config));
    return file;
  };

  test('run --wait prints the result; inspect prints JSON; ps finds it with --all', async () => {
    const id = randomId('cli');
    const file = await configFile({ id, name: 'cli-echo', sandbox: { command: ['echo', 'from the cli'] } });
    const run = await runCli(['run', file, '--wait'], env);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(
        `agent ${id} \\(cli-echo\\) started: http://localhost:8233/namespaces/default/workflows/agent-${id}`,
      ),
    );
    assert.match(run.stdout, /task 1: succeeded, exit code 0/);
    assert.match(run.stdout, /\| from the cli/);

    const inspect = await runCli(['inspect', id], env);
    assert.equal(inspect.code, 0, inspect.stderr);
    const status = JSON.parse(inspect.stdout) as { state: string; history: { to: string }[] };
    assert.equal(status.state, 'Terminated');

    // Visibility is eventually consistent: the agent shows up in `ps` within a moment (on a loaded
    // machine, each `ars ps` is a process start of its own, and the lag grows: 90 s).
    const listed = await eventually(
      async () => {
        const ps = await runCli(['ps', '--all', '--name', 'cli-echo', '--json'], env);
        assert.equal(ps.code, 0, ps.stderr);
        const agents = JSON.parse(ps.stdout) as { agentId: string; state: string }[];
        return agents.find((a) => a.agentId === id);
      },
      'agent listed by ps',
      90_000,
    );
    assert.equal(listed.state, 'Terminated');
  });

  test('persistent agent steered from the CLI', async () => {
    const id = randomId('cli');
    const file = await configFile({ id, name: 'cli-persistent', mode: 'persistent' });
    assert.equal((await runCli(['run', file], env)).code, 0);
    const assign = await runCli(['assign', id, '--wait', '--', 'sh', '-c', 'echo task ran'], env);
    assert.equal(assign.code, 0, assign.stderr);
    assert.match(assign.stdout, /task 1: succeeded/);
    const resume = await runCli(['resume', id], env);
    assert.equal(resume.code, 1);
    assert.match(
      resume.stderr,
      /cannot resume agent '.*': it is Ready; resume applies only to an agent that is Suspended/,
    );
    const terminate = await runCli(['terminate', id, '--reason', 'test over'], env);
    assert.equal(terminate.code, 0, terminate.stderr);
    const result = await runtime.ars.result(id);
    assert.equal(result.state, 'Terminated');
  });

  test('bad configs are rejected with the field and the fix, and nothing is created', async () => {
    const cases: [unknown, RegExp][] = [
      [
        { name: 'x', tier: 'tier4', sandbox: { command: ['true'] } },
        /tier: 'tier4' is not allowed; use 'none', 'docker', 'gvisor', 'firecracker'/,
      ],
      [
        { name: 'x', resources: { memoryMb: -1 }, sandbox: { command: ['true'] } },
        /resources\.memoryMb: memoryMb must be at least 16/,
      ],
      [{ name: 'x', sandbox: { command: [] } }, /sandbox\.command: command is empty/],
      [{ name: 'x', sandbox: { command: ['true'] }, surprise: 1 }, /unknown field 'surprise'/],
    ];
    for (const [config, message] of cases) {
      const id = randomId('bad');
      const run = await runCli(['run', await configFile({ id, ...(config as object) })], env);
      assert.equal(run.code, 2, `exit code for ${JSON.stringify(config)}`);
      assert.match(run.stderr, /error: agent config is invalid:/);
      assert.match(run.stderr, message);
      await assert.rejects(runtime.ars.status(id), (error: unknown) => error instanceof AgentNotFoundError);
    }
    assert.deepEqual(await runtime.containers(), []);
    const missing = await runCli(['run', join(dir, 'nope.json')], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read .*nope\.json: ENOENT/);
  });

  test('unknown agents and bad options get clear errors', async () => {
    const inspect = await runCli(['inspect', 'no-such-agent'], env);
    assert.equal(inspect.code, 1);
    assert.match(inspect.stderr, /no agent 'no-such-agent' exists; 'ars ps' lists the agents/);
    const ps = await runCli(['ps', '--state', 'Sleeping'], env);
    assert.equal(ps.code, 2);
    assert.match(ps.stderr, /--state 'Sleeping' is unknown/);
    const unknown = await runCli(['frobnicate'], env);
    assert.equal(unknown.code, 2);
  });

  test('SDK agent options and messages: bad input is refused before anything starts', async () => {
    for (const [args, message] of [
      [['worker', '--agent-tier', 'bogus'], /--agent-tier 'bogus' is unknown; use none, docker, gvisor/],
      [['worker', '--role', 'control', '--agents', 'x.js'], /--agents needs a host worker/],
      [['dev', '--idle-timeout', '-5'], /--idle-timeout '-5' must be a whole number/],
      [
        ['msg', 'request', 'not-an-agent-id', 'ping'],
        /'not-an-agent-id' is not an agent id; agent ids are type\/key/,
      ],
      [['msg', 'send', 'worker/1', 'square', '{bad json'], /the payload is not valid JSON/],
    ] as const) {
      const r = await runCli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  });
});
