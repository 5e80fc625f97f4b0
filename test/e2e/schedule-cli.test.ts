/**
 * The compiled `ars schedule` commands end to end, against the real Temporal server, with a control
 * and a host worker in this process (on this test's own queues, passed to the CLI through ARS_*).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError } from '@temporalio/client';
import { scheduleId } from '../../src/schedule/index.js';
import { randomId } from '../../src/util/ids.js';
import { runCli } from '../helpers/cli.js';
import { eventually, removeRuns, startTestRuntime, type TestRuntime } from '../helpers/runtime.js';

describe('ars schedule CLI against the real services', () => {
  let runtime: TestRuntime;
  let dir: string;
  let env: Record<string, string>;
  const schedules: string[] = [];
  const workflows: string[] = [];

  before(async () => {
    runtime = await startTestRuntime();
    dir = await mkdtemp(join(tmpdir(), 'ars-schedule-cli-'));
    env = { ARS_HOST_ID: runtime.settings.hostId, ARS_CONTROL_TASK_QUEUE: runtime.settings.controlTaskQueue };
  });
  after(async () => {
    await removeRuns(runtime.ars, { schedules, workflows });
    await runtime.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const configFile = async (config: unknown): Promise<string> => {
    const file = join(dir, `${randomId('agent')}.json`);
    await writeFile(file, JSON.stringify(config));
    return file;
  };
  const absent = async (name: string): Promise<void> => {
    await assert.rejects(
      runtime.ars.temporal.schedule.getHandle(scheduleId(name)).describe(),
      ScheduleNotFoundError,
    );
  };

  test('create, ls, trigger --wait, pause, unpause, delete; an unknown name exits 1', async () => {
    const name = randomId('cli-sched');
    schedules.push(scheduleId(name));
    const marker = randomId('from-the-schedule');
    const agent = await configFile({
      name: 'cli-scheduled',
      tier: 'docker',
      resources: { memoryMb: 64, timeoutMs: 20_000 },
      sandbox: { command: ['echo', marker] },
    });

    const create = await runCli(['schedule', 'create', name, '--agent', agent, '--cron', '0 3 1 1 *'], env);
    assert.equal(create.code, 0, create.stderr);
    assert.equal(
      create.stdout.split('\n')[0],
      `schedule ${name} created (cron 0 3 1 1 *, agent cli-scheduled): http://localhost:8233/namespaces/default/schedules/ars-schedule-${name}`,
    );
    assert.match(create.stdout, /next run: \d{4}-01-01T03:00:00Z/);
    assert.equal(create.stderr, '', 'workers poll the queue: no warning');

    const listed = await eventually(async () => {
      const ls = await runCli(['schedule', 'ls', '--json'], env);
      assert.equal(ls.code, 0, ls.stderr);
      return (JSON.parse(ls.stdout) as { name: string; agent: string; paused: boolean }[]).find(
        (s) => s.name === name,
      );
    }, 'the schedule in ls --json');
    assert.equal(listed.agent, 'cli-scheduled');
    assert.equal(listed.paused, false);
    const table = await runCli(['schedule', 'ls'], env);
    assert.match(table.stdout, /^NAME\s+AGENT\s+TIMES\s+STATE\s+NEXT RUN\s+LAST RUN\s+RUNS$/m);
    assert.match(table.stdout, new RegExp(`^${name}\\s+cli-scheduled\\s+cron 0 3 1 1 \\*\\s+active\\s`, 'm'));

    const trigger = await runCli(['schedule', 'trigger', name, '--wait', '--json'], env);
    assert.equal(trigger.code, 0, trigger.stderr);
    const run = JSON.parse(trigger.stdout) as {
      workflowId: string;
      started: boolean;
      result: { mode: string; result: { outcome: string; stdout: string } };
    };
    workflows.push(run.workflowId);
    assert.equal(run.started, true);
    assert.match(run.workflowId, new RegExp(`^agent-${name}-`));
    assert.equal(run.result.mode, 'scheduled');
    assert.equal(run.result.result.outcome, 'succeeded');
    assert.equal(run.result.result.stdout, `${marker}\n`);

    const pause = await runCli(['schedule', 'pause', name, '--note', 'on hold'], env);
    assert.equal(pause.code, 0, pause.stderr);
    assert.equal(pause.stdout, `schedule ${name} paused: on hold\n`);
    const afterPause = await runCli(['schedule', 'ls'], env);
    assert.match(
      afterPause.stdout,
      new RegExp(`^${name}\\s+cli-scheduled\\s+cron 0 3 1 1 \\*\\s+paused\\s`, 'm'),
    );
    assert.match(afterPause.stdout, new RegExp(`${run.workflowId}\\s+1$`, 'm'), 'the last run is shown');

    const unpause = await runCli(['schedule', 'resume', name], env);
    assert.equal(unpause.code, 0, unpause.stderr);
    assert.match(unpause.stdout, new RegExp(`^schedule ${name} active`));

    const del = await runCli(['schedule', 'delete', name], env);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, `schedule ${name} deleted\n`);
    await absent(name);

    for (const verb of ['pause', 'trigger', 'delete']) {
      const missing = await runCli(['schedule', verb, name], env);
      assert.equal(missing.code, 1, `${verb}: ${missing.stderr}`);
      assert.match(missing.stderr, new RegExp(`^error: schedule '${name}' not found`), verb);
    }
  });

  test('bad input exits 2 naming the flag and the fix, and creates nothing', async () => {
    const name = randomId('cli-bad');
    schedules.push(scheduleId(name));
    const good = await configFile({ name: 'cli-bad-input', sandbox: { command: ['echo', 'must not run'] } });
    const bad = await configFile({ name: 'cli-bad-input', tier: 'tier4' });
    const cases: [string[], RegExp][] = [
      [['--agent', good, '--cron', '0 3 * *'], /- cron: cron '0 3 \* \*' has 4 fields; use 5/],
      [['--agent', good, '--every', '10 minutes'], /- every: every '10 minutes' is not a duration/],
      [
        ['--agent', good, '--cron', '0 3 * * *', '--overlap', 'sometimes'],
        /- overlap: 'sometimes' is not allowed; use 'skip'/,
      ],
      [['--agent', good], /- cron: a schedule needs a time/],
      [
        ['--agent', bad, '--every', '1h'],
        new RegExp(
          `\\(agent config ${bad.replace(/[.]/g, '\\.')}\\) is invalid:\\n  - agent\\.tier: 'tier4' is not allowed`,
        ),
      ],
      [['--agent', join(dir, 'missing.json'), '--every', '1h'], /cannot read .*missing\.json: ENOENT/],
    ];
    for (const [flags, message] of cases) {
      const result = await runCli(['schedule', 'create', name, ...flags], env);
      assert.equal(result.code, 2, `${flags.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, message, flags.join(' '));
    }
    const trigger = await runCli(['schedule', 'trigger', name, '--overlap', 'whenever'], env);
    assert.equal(trigger.code, 2);
    assert.match(trigger.stderr, /--overlap 'whenever' is unknown; use one of skip, buffer-one/);
    await absent(name);
  });
});
