/**
 * `ars schedule` (src/schedule) against the real Temporal server and Docker: a schedule created from
 * an agent config is a Temporal Schedule whose action starts the agent workflow on this test's
 * control queue and host; triggering it runs the agent to completion through the in-process workers;
 * ls / pause / unpause / delete act on it; bad input and a policy denial create nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError as TemporalScheduleNotFoundError } from '@temporalio/client';
import type { AgentResult } from '../../../src/client/index.js';
import { ConfigError } from '../../../src/config/index.js';
import {
  ScheduleExistsError,
  ScheduleNotFoundError,
  SchedulePolicyDeniedError,
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  scheduleId,
  triggerSchedule,
  unpauseSchedule,
} from '../../../src/schedule/index.js';
import { randomId } from '../../../src/util/ids.js';
import { eventually, removeRuns, startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

/** An ephemeral agent that prints `marker` in a Docker sandbox. */
const echoAgent = (name: string, marker: string) => ({
  name,
  tier: 'docker',
  resources: { memoryMb: 64, cpus: 0.5, timeoutMs: 20_000 },
  sandbox: { command: ['echo', marker] },
});

/** Once a year: never due while the test runs, so every run it sees is one it triggered. */
const YEARLY = '0 3 1 1 *';

describe('ars schedule: Temporal Schedules that start agents', () => {
  let runtime: TestRuntime;
  const schedules: string[] = [];
  const workflows: string[] = [];

  before(async () => {
    runtime = await startTestRuntime();
  });

  after(async () => {
    await removeRuns(runtime.ars, { schedules, workflows });
    await runtime.stop();
  });

  /** A schedule name unique to this run, registered for cleanup. */
  const fresh = (prefix: string): string => {
    const name = randomId(prefix);
    schedules.push(scheduleId(name));
    return name;
  };
  const absent = async (name: string): Promise<void> => {
    await assert.rejects(
      runtime.ars.temporal.schedule.getHandle(scheduleId(name)).describe(),
      TemporalScheduleNotFoundError,
      `schedule ${name} must not exist`,
    );
  };

  test('create → ls → trigger runs the agent to completion → pause → trigger while paused → unpause → delete', async () => {
    const name = fresh('it-sched');
    const agent = randomId('sched-agent');
    const marker = randomId('scheduled-run');
    const created = await createSchedule(runtime.ars, {
      name,
      agent: echoAgent(agent, marker),
      cron: YEARLY,
    });
    assert.equal(created.name, name);
    assert.equal(created.scheduleId, `ars-schedule-${name}`);
    assert.equal(created.agent, agent);
    assert.equal(created.agentId, name, 'the agent id defaults to the schedule name');
    assert.equal(created.spec, `cron ${YEARLY}`);
    assert.equal(created.paused, false);
    assert.equal(created.overlap, 'skip');
    assert.equal(created.config.mode, 'scheduled', 'an ephemeral agent is run in scheduled mode');
    assert.equal(created.hostId, runtime.settings.hostId);
    assert.equal(created.nextRuns[0]?.toISOString().slice(5, 16), '01-01T03:00');
    assert.deepEqual(created.recentRuns, []);

    // The Temporal Schedule itself: its action starts the agent workflow on this test's queues.
    const handle = runtime.ars.temporal.schedule.getHandle(scheduleId(name));
    const described = await handle.describe();
    assert.equal(described.action.workflowType, 'agentWorkflow');
    assert.equal(described.action.taskQueue, runtime.settings.controlTaskQueue);
    assert.equal(described.action.workflowId, `agent-${name}`);
    const input = described.action.args?.[0] as {
      config: { name: string; mode: string; sandbox: { command: string[] } };
      placement: { hostId: string; hostQueue: string };
    };
    assert.equal(input.config.name, agent);
    assert.equal(input.config.mode, 'scheduled');
    assert.deepEqual(input.config.sandbox.command, ['echo', marker]);
    assert.equal(input.placement.hostId, runtime.settings.hostId);
    assert.equal(input.placement.hostQueue, `ars-host-${runtime.settings.hostId}`);
    assert.deepEqual(described.memo, {
      arsAgent: agent,
      arsSchedule: name,
      arsAgentId: name,
      arsSpec: `cron ${YEARLY}`,
    });

    // ls finds it (Temporal's schedule listing lags a new schedule by a moment).
    const listed = await eventually(
      async () => (await listSchedules(runtime.ars)).find((s) => s.name === name),
      'the schedule to be listed',
    );
    assert.equal(listed.agent, agent);
    assert.equal(listed.paused, false);
    assert.equal(listed.spec, `cron ${YEARLY}`);

    // Run now: the agent workflow runs through the workers to completion.
    const run = await triggerSchedule(runtime.ars, name);
    assert.ok(run.workflowId, 'the started workflow id is returned');
    assert.ok(run.runId, 'and its run id');
    workflows.push(run.workflowId);
    assert.ok(run.workflowId.startsWith(`agent-${name}-`), run.workflowId);
    assert.equal(
      run.ui,
      `${runtime.settings.temporalUiUrl}/namespaces/default/workflows/${encodeURIComponent(run.workflowId)}`,
    );
    const result = (await runtime.ars.temporal.workflow.getHandle(run.workflowId).result()) as AgentResult;
    assert.equal(result.mode, 'scheduled');
    assert.equal(result.state, 'Terminated');
    assert.equal(result.result?.outcome, 'succeeded');
    assert.equal(result.result?.stdout, `${marker}\n`);
    // The schedule learns of the run's end a moment after the workflow closes; until then its overlap
    // policy (skip) would skip the next trigger.
    const afterRun = await eventually(async () => {
      const d = await describeSchedule(runtime.ars, name);
      return d.running.length === 0 ? d : undefined;
    }, 'the schedule to see its run end');
    assert.equal(afterRun.lastRun?.workflowId, run.workflowId);
    assert.equal(afterRun.runsTaken, 1);

    // Pause: ls shows it paused, with the note.
    const paused = await pauseSchedule(runtime.ars, name, 'maintenance window');
    assert.equal(paused.paused, true);
    assert.equal(paused.note, 'maintenance window');
    const listedPaused = (await listSchedules(runtime.ars)).find((s) => s.name === name);
    assert.equal(listedPaused?.paused, true);
    assert.equal(listedPaused?.note, 'maintenance window');

    // A paused schedule still runs when triggered. (allow-all: the schedule's own record of the first
    // run's end can lag behind what describe shows, and under its skip policy Temporal would then drop
    // this trigger — overlap is tested on its own below.)
    // Temporal names a schedule's runs by the second they start: when the first run took less than a
    // second, this one has the same workflow id, and only the run id tells them apart.
    const second = await triggerSchedule(runtime.ars, name, { overlap: 'allow-all' });
    assert.ok(second.workflowId && second.runId && second.runId !== run.runId, String(second.workflowId));
    workflows.push(second.workflowId);
    const secondResult = (await runtime.ars.temporal.workflow
      .getHandle(second.workflowId, second.runId)
      .result()) as AgentResult;
    assert.equal(secondResult.result?.stdout, `${marker}\n`);

    assert.equal((await unpauseSchedule(runtime.ars, name)).paused, false);

    await deleteSchedule(runtime.ars, name);
    await absent(name);
    assert.equal(
      (await listSchedules(runtime.ars)).some((s) => s.name === name),
      false,
      'ls no longer shows it',
    );
    await assert.rejects(describeSchedule(runtime.ars, name), ScheduleNotFoundError);
  });

  test('under the schedule overlap policy (skip) a trigger while a run runs starts nothing; --overlap allow-all starts it', async () => {
    const name = fresh('it-overlap');
    await createSchedule(runtime.ars, {
      name,
      cron: YEARLY,
      agent: {
        ...echoAgent(randomId('sleeper'), 'x'),
        resources: { memoryMb: 64, timeoutMs: 120_000 },
        sandbox: { command: ['sleep', '15'] },
      },
    });
    const first = await triggerSchedule(runtime.ars, name);
    assert.ok(first.workflowId);
    workflows.push(first.workflowId);
    const skipped = await triggerSchedule(runtime.ars, name, { waitMs: 3000 });
    assert.equal(skipped.workflowId, undefined, 'skipped: the first run is still running');
    assert.deepEqual((await describeSchedule(runtime.ars, name)).running, [first.workflowId]);
    const second = await triggerSchedule(runtime.ars, name, { overlap: 'allow-all' });
    assert.ok(second.workflowId && second.workflowId !== first.workflowId, String(second.workflowId));
    workflows.push(second.workflowId);
    // Both runs go on to their end.
    for (const workflowId of [first.workflowId, second.workflowId]) {
      const result = (await runtime.ars.temporal.workflow.getHandle(workflowId).result()) as AgentResult;
      assert.equal(result.result?.outcome, 'succeeded', workflowId);
    }
    await deleteSchedule(runtime.ars, name);
  });

  test('an interval schedule keeps its overlap policy, time zone, paused state and note', async () => {
    const name = fresh('it-every');
    const created = await createSchedule(runtime.ars, {
      name,
      agent: { ...echoAgent(randomId('every-agent'), 'x'), id: randomId('every-id'), mode: 'scheduled' },
      every: '1h30m',
      timezone: 'Europe/Paris',
      overlap: 'buffer-one',
      paused: true,
      note: 'created paused',
    });
    assert.equal(created.spec, 'every 1h30m (Europe/Paris)');
    assert.equal(created.timezone, 'Europe/Paris');
    assert.equal(created.overlap, 'buffer-one');
    assert.equal(created.paused, true);
    assert.equal(created.note, 'created paused');
    assert.equal(created.agentId, created.config.id);
    const d = await runtime.ars.temporal.schedule.getHandle(scheduleId(name)).describe();
    assert.deepEqual(
      d.spec.intervals?.map((i) => i.every),
      [5_400_000],
    );
    assert.equal(d.policies.overlap, 'BUFFER_ONE');
    assert.equal(d.state.paused, true);
    await deleteSchedule(runtime.ars, name);
  });

  test('bad input is refused naming the field and the fix; nothing is created', async () => {
    const name = fresh('it-bad');
    const good = echoAgent('bad-input-agent', 'must not run');
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ cron: '0 3 * *' }, 'cron', /cron '0 3 \* \*' has 4 fields; use 5: minute hour/],
      [{ cron: '61 * * * *' }, 'cron', /minute '61' is not valid/],
      [{ every: '5 minutes' }, 'every', /every '5 minutes' is not a duration; use a number and a unit/],
      [{ every: '500ms' }, 'every', /every must be at least 1s/],
      [{}, 'cron', /a schedule needs a time: cron \(e\.g\. "0 2 \* \* \*"\) or every/],
      [{ cron: YEARLY, every: '1h' }, 'every', /give either cron or every, not both/],
      [{ cron: YEARLY, overlap: 'never' }, 'overlap', /'never' is not allowed; use 'skip', 'buffer-one'/],
      [{ cron: YEARLY, timezone: 'Mars/Base' }, 'timezone', /IANA time zone/],
      [
        { cron: YEARLY, agent: { ...good, tier: 'tier9' } },
        'agent.tier',
        /'tier9' is not allowed; use 'none'/,
      ],
      [{ cron: YEARLY, agent: { ...good, colour: 'red' } }, 'agent', /unknown field 'colour'/],
      [
        { cron: YEARLY, agent: { ...good, mode: 'persistent' } },
        'agent.mode',
        /use 'scheduled' or 'ephemeral'/,
      ],
      [
        { cron: YEARLY, agent: { name: 'no-command', mode: 'scheduled' } },
        'agent.sandbox.command',
        /needs a command to run each time/,
      ],
      [{ cron: YEARLY, agent: undefined }, 'agent', /agent is required/],
    ];
    for (const [override, path, message] of cases) {
      await assert.rejects(
        createSchedule(runtime.ars, { name, agent: good, ...override }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `${JSON.stringify(override)}: ${String(error)}`);
          assert.equal(error.code, 'ARS_CONFIG_INVALID');
          assert.equal(error.subject, `schedule '${name}'`);
          const problem = error.problems.find((p) => p.path === path);
          assert.ok(problem, `${JSON.stringify(override)}: a problem at ${path} in ${error.message}`);
          assert.match(problem.message, message);
          return true;
        },
      );
    }
    // Several problems at once are all reported.
    await assert.rejects(
      createSchedule(runtime.ars, {
        name: 'bad name!',
        agent: { ...good, tier: 'tier9' },
        every: 'soon',
      }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((p) => p.path).sort(), ['agent.tier', 'every', 'name']);
        return true;
      },
    );
    await absent(name);
    await absent('bad name!');
  });

  test('an agent the policies deny is refused before anything is created; a name in use is refused', async () => {
    const name = fresh('it-denied');
    await assert.rejects(
      createSchedule(runtime.ars, {
        name,
        cron: YEARLY,
        agent: { ...echoAgent('too-big', 'must not run'), resources: { memoryMb: 8192 } },
      }),
      (error: unknown) => {
        assert.ok(error instanceof SchedulePolicyDeniedError, String(error));
        assert.equal(error.code, 'ARS_SCHEDULE_POLICY_DENIED');
        assert.equal(error.agentName, 'too-big');
        assert.match(
          error.message,
          new RegExp(
            `^schedule '${name}' was not created: policy denies creating agent 'too-big' \\(no policy permits it`,
          ),
        );
        return true;
      },
    );
    await absent(name);

    const taken = fresh('it-taken');
    await createSchedule(runtime.ars, { name: taken, cron: YEARLY, agent: echoAgent('first', 'one') });
    await assert.rejects(
      createSchedule(runtime.ars, { name: taken, every: '1h', agent: echoAgent('second', 'two') }),
      (error: unknown) => {
        assert.ok(error instanceof ScheduleExistsError);
        assert.equal(error.code, 'ARS_SCHEDULE_EXISTS');
        assert.match(error.message, new RegExp(`^schedule '${taken}' already exists`));
        return true;
      },
    );
    const kept = await describeSchedule(runtime.ars, taken);
    assert.equal(kept.agent, 'first', 'the existing schedule is unchanged');
    assert.equal(kept.spec, `cron ${YEARLY}`);
    await deleteSchedule(runtime.ars, taken);
  });

  test('unknown names: every verb throws ScheduleNotFoundError', async () => {
    const name = randomId('no-such-schedule');
    const verbs: [string, () => Promise<unknown>][] = [
      ['describe', () => describeSchedule(runtime.ars, name)],
      ['pause', () => pauseSchedule(runtime.ars, name)],
      ['unpause', () => unpauseSchedule(runtime.ars, name)],
      ['trigger', () => triggerSchedule(runtime.ars, name)],
      ['delete', () => deleteSchedule(runtime.ars, name)],
    ];
    for (const [verb, call] of verbs) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof ScheduleNotFoundError, `${verb}: ${String(error)}`);
        assert.equal(error.code, 'ARS_SCHEDULE_NOT_FOUND');
        assert.equal(error.scheduleName, name);
        assert.match(error.message, new RegExp(`^schedule '${name}' not found`));
        return true;
      });
    }
  });

  test('ls ignores Temporal Schedules that are not ARS schedules', async () => {
    const other = randomId('test-not-ars');
    const noMemo = scheduleId(randomId('no-memo'));
    schedules.push(other, noMemo);
    const plain = {
      spec: { cronExpressions: [YEARLY] },
      action: {
        type: 'startWorkflow' as const,
        workflowType: 'notAnAgent',
        taskQueue: randomId('test-nobody-polls'),
      },
      state: { paused: true },
    };
    await runtime.ars.temporal.schedule.create({
      scheduleId: other,
      ...plain,
      memo: { owner: 'someone else' },
    });
    await runtime.ars.temporal.schedule.create({ scheduleId: noMemo, ...plain });
    const ours = fresh('it-ours');
    await createSchedule(runtime.ars, {
      name: ours,
      cron: YEARLY,
      agent: echoAgent('ours', 'x'),
      paused: true,
    });
    // Wait until Temporal's own listing shows all three, then compare with ours.
    await eventually(async () => {
      const ids = new Set<string>();
      for await (const s of runtime.ars.temporal.schedule.list()) ids.add(s.scheduleId);
      return [other, noMemo, scheduleId(ours)].every((id) => ids.has(id)) ? true : undefined;
    }, 'Temporal to list the three schedules');
    const names = (await listSchedules(runtime.ars)).map((s) => s.scheduleId);
    assert.ok(names.includes(scheduleId(ours)));
    assert.equal(names.includes(other), false, 'a schedule without the ars-schedule- prefix is ignored');
    assert.equal(names.includes(noMemo), false, 'a schedule without the ARS memo is ignored');
    await deleteSchedule(runtime.ars, ours);
  });
});
