/**
 * `applyFile` against the real Temporal, Docker and the control worker's Cedar engine: a definition
 * file is compiled, checked against the policy directory and deployed (Cedar file, agent workflow,
 * Temporal Schedule); a file that fails any check deploys nothing.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { Command } from 'commander';
import {
  ApplyCompileError,
  ApplyPolicyDeniedError,
  ApplyPolicyLoadError,
  applyFile,
  scheduleId,
} from '../../../src/apply/index.js';
import { registerApplyCommands } from '../../../src/cli/commands/apply.js';
import { randomId } from '../../../src/util/ids.js';
import {
  copyDefaultPolicies,
  dslName,
  eventually,
  removeRuns,
  startTestRuntime,
  type TestRuntime,
} from '../../helpers/runtime.js';

describe('ars apply: DSL definitions deployed on the real runtime', () => {
  let runtime: TestRuntime;
  let policyDir: string;
  let work: string;
  const schedules: string[] = [];
  const workflows: string[] = [];

  before(async () => {
    policyDir = await copyDefaultPolicies('ars-apply-policies');
    work = await mkdtemp(join(tmpdir(), 'ars-apply-defs-'));
    runtime = await startTestRuntime({ policyDir });
  });

  after(async () => {
    await removeRuns(runtime.ars, { schedules, workflows });
    await runtime.stop();
    await rm(policyDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  const define = async (name: string, text: string): Promise<string> => {
    const path = join(work, name);
    await writeFile(path, text);
    return path;
  };
  const dslFiles = (): Promise<string[]> => readdir(join(policyDir, 'dsl')).catch(() => []);
  const noSchedule = async (id: string): Promise<void> => {
    await assert.rejects(runtime.ars.temporal.schedule.getHandle(id).describe(), ScheduleNotFoundError);
  };
  /** Nothing started for this agent name: no agent workflow is visible. */
  const noAgentNamed = async (name: string): Promise<void> => {
    // Visibility is eventually consistent; give a workflow that was (wrongly) started time to appear.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(await runtime.ars.list({ name, all: true }), []);
  };

  test('an agent with metadata, capabilities, a policy block and a with-block runs in Docker; its Cedar file is installed and enforced by the engine', async () => {
    const agent = dslName('writer');
    const marker = randomId('applied');
    const path = await define(
      `${agent}.symbi`,
      `// applied by the integration test
metadata { version = "1.2.3"  author = "ars-test"  tags = ["it", "apply"] }

agent ${agent}(path: String) -> bool {
    capabilities = ["read", "write"]

    policy no_writes {
        allow: read(file) if file.in_project == true
        deny: ["write", "net"]
        audit: all_interactions
    }

    with sandbox = docker, timeout = 20s, max_memory_mb = 96,
         command = ["sh", "-c", "echo ${marker}"] {
        write(path, "x")
    }
}
`,
    );
    const result = await applyFile(path, { client: runtime.ars });
    assert.equal(result.dryRun, false);
    assert.equal(result.agents.length, 1);
    const [applied] = result.agents;
    assert.ok(applied);
    workflows.push(applied.workflowId);
    assert.equal(applied.name, agent);
    assert.equal(applied.started, true);
    assert.equal(applied.ui, runtime.ars.uiUrl(applied.id));
    assert.deepEqual(applied.config.capabilities, ['read', 'write']);
    assert.equal(applied.config.tier, 'docker');
    assert.equal(applied.config.resources.memoryMb, 96);
    assert.equal(applied.config.resources.timeoutMs, 20_000);
    assert.equal(applied.config.metadata.version, '1.2.3');
    assert.equal(applied.config.metadata.tags, 'it,apply');

    // The agent ran to completion in a Docker sandbox.
    const finished = await runtime.ars.result(applied.id);
    assert.equal(finished.state, 'Terminated');
    assert.equal(finished.result?.outcome, 'succeeded');
    assert.equal(finished.result?.stdout, `${marker}\n`);
    assert.deepEqual(await runtime.containers(), [], 'the sandbox was removed');

    // The Cedar file is installed where the control worker looks, and its watcher loaded it.
    const installed = join(policyDir, 'dsl', `${agent}.cedar`);
    assert.deepEqual(
      result.policyFiles.map((p) => p.path),
      [installed],
    );
    const text = await readFile(installed, 'utf8');
    assert.match(
      text,
      new RegExp(`@id\\("${agent}\\.no_writes\\.2"\\)\\s+@source\\("[^"]+:9:9"\\)\\s+forbid`),
    );
    assert.match(text, /\/\/ {3}audit: all_interactions/);
    assert.deepEqual(await dslFiles(), [`${agent}.cedar`], 'no temporary file left behind');
    const engine = runtime.control?.policy;
    assert.ok(engine);
    await eventually(
      () => Promise.resolve(engine.status.policyIds.includes(`${agent}.no_writes.2`) ? true : undefined),
      'the control worker to load the applied policy file',
    );
    const write = engine.checkCapability({ agent, capability: 'write', resourceId: '/work/out.txt' });
    assert.equal(write.decision, 'deny');
    assert.deepEqual(write.reasons, [`${agent}.no_writes.2`]);
    const readInProject = engine.checkCapability({
      agent,
      capability: 'read',
      resourceId: '/work/in.txt',
      attributes: { in_project: true },
    });
    assert.equal(readInProject.decision, 'allow');
    assert.deepEqual(readInProject.reasons, [`${agent}.no_writes.1`]);
    const readOutside = engine.checkCapability({
      agent,
      capability: 'read',
      resourceId: '/etc/passwd',
      attributes: { in_project: false },
    });
    assert.equal(readOutside.decision, 'deny');

    // Applying the file again replaces the policy file (no clash with its own earlier policy ids).
    const again = await applyFile(path, { client: runtime.ars });
    const [second] = again.agents;
    assert.ok(second);
    workflows.push(second.workflowId);
    assert.notEqual(second.id, applied.id);
    assert.equal((await runtime.ars.result(second.id)).result?.stdout, `${marker}\n`);
    assert.deepEqual(await dslFiles(), [`${agent}.cedar`]);
    assert.equal(engine.reload().ok, true);
  });

  test('malformed DSL deploys nothing: no workflow, no schedule, no policy file', async () => {
    const agent = dslName('broken');
    const schedule = dslName('never');
    const before = await dslFiles();
    const path = await define(
      `${agent}.symbi`,
      `agent ${agent}() -> String {
    capabilities = ["read"]
    policy p {
        deny: write
    with sandbox = docker, timeout = 5x, command = ["echo", "must not run"] {
        "x"
    }

schedule ${schedule} { cron: "0 3 * * *", agent: "${agent}" }
`,
    );
    await assert.rejects(applyFile(path, { client: runtime.ars }), (error: unknown) => {
      assert.ok(error instanceof ApplyCompileError, String(error));
      assert.equal(error.code, 'ARS_APPLY_COMPILE');
      assert.ok(error.problems.length >= 1);
      for (const p of error.problems)
        assert.match(p, new RegExp(`^${path.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
      assert.ok(
        error.problems.some((p) => /found '5x', expected a duration/.test(p)),
        error.problems.join('\n'),
      );
      assert.match(error.message, /was not applied \(nothing deployed\)/);
      return true;
    });
    assert.deepEqual(await dslFiles(), before);
    await noSchedule(scheduleId(schedule));
    await noAgentNamed(agent);
  });

  test('a policy rule that does not fit the Cedar schema is refused at compile time with its position', async () => {
    const agent = dslName('teleporter');
    const path = await define(
      `${agent}.symbi`,
      `agent ${agent}() -> bool {
    capabilities = ["read"]
    policy p {
        deny: teleport
    }
    with sandbox = docker, command = ["echo", "must not run"] { true }
}
`,
    );
    await assert.rejects(applyFile(path, { client: runtime.ars }), (error: unknown) => {
      assert.ok(error instanceof ApplyCompileError);
      assert.deepEqual(error.problems.length, 1);
      assert.match(
        error.problems[0] ?? '',
        /:4:9: .*unrecognized action `Ars::Action::"capability:teleport"`/,
      );
      return true;
    });
    assert.equal(
      (await dslFiles()).some((f) => f.startsWith(agent)),
      false,
    );
    await noAgentNamed(agent);
  });

  test('an agent the existing policies deny deploys nothing, and the refusal names the policy', async () => {
    const agent = dslName('denied');
    const schedule = dslName('denied_sched');
    const forbid = join(policyDir, `test-forbid-${agent}.cedar`);
    await writeFile(
      forbid,
      `@id("test.forbid-${agent}")
forbid (principal, action == Ars::Action::"CreateAgent", resource is Ars::Agent)
when { resource.name == "${agent}" };
`,
    );
    try {
      const path = await define(
        `${agent}.symbi`,
        `agent ${agent}() -> bool {
    capabilities = ["read"]
    policy p { deny: write }
    with sandbox = docker, timeout = 5s, command = ["echo", "must not run"] { true }
}
schedule ${schedule} { interval: 1h, agent: "${agent}" }
`,
      );
      await assert.rejects(applyFile(path, { client: runtime.ars }), (error: unknown) => {
        assert.ok(error instanceof ApplyPolicyDeniedError, String(error));
        assert.equal(error.code, 'ARS_APPLY_POLICY_DENIED');
        assert.deepEqual(
          error.denied.map((d) => [d.name, d.reasons]),
          [[agent, [`test.forbid-${agent}`]]],
        );
        assert.match(error.message, new RegExp(`agent '${agent}' \\(forbidden by test\\.forbid-${agent}\\)`));
        return true;
      });
      assert.equal(
        (await dslFiles()).some((f) => f.startsWith(agent)),
        false,
        'the policy file was not written',
      );
      await noSchedule(scheduleId(schedule));
      await noAgentNamed(agent);
    } finally {
      await rm(forbid, { force: true });
    }

    // Limits above what the default policies permit: no permit applies, so creation is denied.
    const big = dslName('big');
    const bigPath = await define(
      `${big}.symbi`,
      `agent ${big}() -> bool {
    with sandbox = docker, max_memory_mb = 8192, command = ["echo", "must not run"] { true }
}
`,
    );
    await assert.rejects(applyFile(bigPath, { client: runtime.ars }), (error: unknown) => {
      assert.ok(error instanceof ApplyPolicyDeniedError);
      assert.deepEqual(error.denied[0]?.reasons, []);
      assert.match(error.message, /no policy permits it with these limits, tier and risk/);
      return true;
    });
    // A high-risk agent in a Docker sandbox: the tier-for-risk rule does not permit it.
    const risky = dslName('risky');
    const riskyPath = await define(
      `${risky}.symbi`,
      `agent ${risky}() -> bool {
    with security = high, sandbox = docker, command = ["echo", "must not run"] { true }
}
`,
    );
    await assert.rejects(applyFile(riskyPath, { client: runtime.ars }), ApplyPolicyDeniedError);
    await noAgentNamed(big);
    await noAgentNamed(risky);
  });

  test('policies that would not load together with the directory are refused before anything is written', async () => {
    const agent = dslName('clash');
    const clash = join(policyDir, `test-clash-${agent}.cedar`);
    // Another file already uses the id the DSL policy will get.
    await writeFile(
      clash,
      `@id("${agent}.p.1")
permit (principal, action == Ars::Action::"Subscribe", resource is Ars::Topic);
`,
    );
    try {
      const path = await define(
        `${agent}.symbi`,
        `agent ${agent}() -> bool {
    policy p { deny: write }
    with sandbox = docker, command = ["echo", "must not run"] { true }
}
`,
      );
      await assert.rejects(applyFile(path, { client: runtime.ars }), (error: unknown) => {
        assert.ok(error instanceof ApplyPolicyLoadError, String(error));
        assert.equal(error.code, 'ARS_APPLY_POLICY_LOAD');
        assert.match(error.reason, new RegExp(`policy id '${agent}\\.p\\.1' is already used`));
        assert.ok(!error.reason.includes('ars-apply-staging-'), `no staging path in: ${error.reason}`);
        assert.ok(
          error.reason.includes(join(policyDir, 'dsl', `${agent}.cedar`)),
          `the clash is shown at the file's real place: ${error.reason}`,
        );
        return true;
      });
      assert.equal(
        (await dslFiles()).some((f) => f.startsWith(agent)),
        false,
      );
      await noAgentNamed(agent);
    } finally {
      await rm(clash, { force: true });
    }
  });

  test('a schedule block becomes a Temporal Schedule that starts the agent; re-applying updates it', async () => {
    const agent = dslName('nightly');
    const name = dslName('sched');
    const id = scheduleId(name);
    const marker = randomId('scheduled');
    const body = (cron: string): string => `metadata { version = "1" }
agent ${agent}() -> String {
    capabilities = ["read"]
    with sandbox = docker, timeout = 20s, max_memory_mb = 64, command = ["sh", "-c", "echo ${marker}"] { "ok" }
}
schedule ${name} { cron: "${cron}", agent: "${agent}", timezone: "Europe/Paris" }
`;
    const path = await define(`${agent}.symbi`, body('0 3 * * *'));
    schedules.push(id);
    const first = await applyFile(path, { client: runtime.ars });
    assert.deepEqual(
      first.schedules.map((s) => [s.id, s.action, s.agent, s.timezone]),
      [[id, 'created', agent, 'Europe/Paris']],
    );
    const [scheduled] = first.agents;
    assert.ok(scheduled);
    assert.equal(scheduled.started, false, 'a scheduled agent is started by its schedule only');
    assert.equal(scheduled.config.mode, 'scheduled');
    assert.deepEqual(scheduled.schedules, [id]);

    const handle = runtime.ars.temporal.schedule.getHandle(id);
    const described = await handle.describe();
    assert.equal(described.action.type, 'startWorkflow');
    assert.equal(described.action.workflowType, 'agentWorkflow');
    assert.equal(described.action.taskQueue, runtime.settings.controlTaskQueue);
    assert.equal(described.action.workflowId, `agent-${scheduled.id}`);
    const input = described.action.args?.[0] as {
      config: { id: string; name: string; mode: string };
      placement: { hostId: string; hostQueue: string; image: string };
    };
    assert.equal(input.config.name, agent);
    assert.equal(input.config.mode, 'scheduled');
    assert.deepEqual(input.placement, {
      hostId: runtime.settings.hostId,
      hostQueue: `ars-host-${runtime.settings.hostId}`,
      image: runtime.settings.sandboxImage,
    });
    assert.equal(described.spec.timezone, 'Europe/Paris');
    assert.equal(described.spec.calendars?.length, 1);
    assert.deepEqual(described.spec.calendars?.[0]?.hour, [{ start: 3, end: 3, step: 1 }]);
    assert.equal(described.memo?.arsAgent, agent);
    // No run started yet; nothing was started outside the schedule either.
    assert.deepEqual(described.info.recentActions, []);
    await noAgentNamed(agent);

    // Re-applying with another cron updates the same schedule.
    await writeFile(path, body('30 4 * * MON-FRI'));
    const second = await applyFile(path, { client: runtime.ars });
    assert.equal(second.schedules[0]?.action, 'updated');
    const updated = await handle.describe();
    assert.deepEqual(updated.spec.calendars?.[0]?.hour, [{ start: 4, end: 4, step: 1 }]);
    assert.deepEqual(updated.spec.calendars?.[0]?.minute, [{ start: 30, end: 30, step: 1 }]);
    const updatedInput = updated.action.args?.[0] as { config: { id: string } };
    assert.equal(updatedInput.config.id, second.agents[0]?.id);

    // Triggering it now runs the agent through the schedule, in Docker, to completion.
    await handle.trigger();
    const run = await eventually(async () => {
      const info = (await handle.describe()).info;
      return info.recentActions[0]?.action.workflow.workflowId ?? info.runningActions[0]?.workflow.workflowId;
    }, 'the schedule to start a run');
    workflows.push(run);
    assert.ok(run.startsWith(`agent-${updatedInput.config.id}-`), run);
    const outcome = (await runtime.ars.temporal.workflow.getHandle(run).result()) as {
      mode: string;
      result?: { outcome: string; stdout: string };
    };
    assert.equal(outcome.mode, 'scheduled');
    assert.equal(outcome.result?.outcome, 'succeeded');
    assert.equal(outcome.result?.stdout, `${marker}\n`);

    await handle.delete();
    await noSchedule(id);
    await assert.rejects(
      runtime.ars.temporal.workflow.getHandle(`agent-${updatedInput.config.id}`).describe(),
      WorkflowNotFoundError,
      'no workflow was started outside the schedule',
    );
  });

  test('a dry run checks everything and deploys nothing', async () => {
    const agent = dslName('dry');
    const name = dslName('dry_sched');
    const path = await define(
      `${agent}.symbi`,
      `agent ${agent}() -> bool {
    policy p { deny: write }
    with sandbox = docker, command = ["echo", "must not run"] { true }
}
schedule ${name} { every: 1h, agent: "${agent}" }
`,
    );
    const plan = await applyFile(path, { settings: runtime.settings, dryRun: true });
    assert.equal(plan.dryRun, true);
    assert.deepEqual(
      plan.policyFiles.map((p) => p.path),
      [join(policyDir, 'dsl', `${agent}.cedar`)],
    );
    assert.deepEqual(
      plan.schedules.map((s) => [s.id, s.action, s.intervalMs]),
      [[scheduleId(name), 'planned', 3_600_000]],
    );
    assert.equal(
      (await dslFiles()).some((f) => f.startsWith(agent)),
      false,
    );
    await noSchedule(scheduleId(name));
    await noAgentNamed(agent);
  });
  test('the `ars apply` command prints what it deployed (--json) and exits 1 on a bad file', async () => {
    // The CLI reads its settings from ARS_* variables: point them at this test's runtime.
    Object.assign(process.env, {
      ARS_POLICY_DIR: policyDir,
      ARS_CONTROL_TASK_QUEUE: runtime.settings.controlTaskQueue,
      ARS_HOST_ID: runtime.settings.hostId,
    });
    const run = async (args: string[]): Promise<{ out: string; err: string; code: number }> => {
      const out: string[] = [];
      const err: string[] = [];
      const program = new Command().exitOverride();
      registerApplyCommands(program, { out: (t) => out.push(t), err: (t) => err.push(t) });
      const previous = process.exitCode;
      process.exitCode = 0;
      try {
        await program.parseAsync(['node', 'ars', ...args]);
        return { out: out.join('\n'), err: err.join('\n'), code: Number(process.exitCode ?? 0) };
      } finally {
        process.exitCode = previous;
      }
    };
    const agent = dslName('cli');
    const marker = randomId('cli');
    const path = await define(
      `${agent}.dsl`,
      `agent ${agent}() -> bool {
    policy p { deny: ["net"] }
    with sandbox = docker, timeout = 20s { true }
}
`,
    );
    const ok = await run([
      'apply',
      path,
      '--command',
      JSON.stringify(['sh', '-c', `echo ${marker}`]),
      '--json',
    ]);
    assert.equal(ok.code, 0, ok.err);
    const printed = JSON.parse(ok.out) as {
      ok: boolean;
      agents: { id: string; name: string; ui: string; workflowId: string; started: boolean }[];
      policyFiles: { path: string; policyIds: string[] }[];
    };
    assert.equal(printed.ok, true);
    const [a] = printed.agents;
    assert.ok(a);
    workflows.push(a.workflowId);
    assert.equal(a.name, agent);
    assert.equal(a.started, true);
    assert.equal(a.ui, runtime.ars.uiUrl(a.id));
    assert.deepEqual(
      printed.policyFiles.map((p) => [p.path, p.policyIds]),
      [[join(policyDir, 'dsl', `${agent}.cedar`), [`${agent}.p`]]],
    );
    assert.equal((await runtime.ars.result(a.id)).result?.stdout, `${marker}\n`);

    const bad = await define(
      `${agent}-bad.dsl`,
      `agent ${agent}_bad() -> bool {\n    policy p { permit: read }\n}\n`,
    );
    const refused = await run(['apply', bad]);
    assert.equal(refused.code, 1);
    assert.equal(refused.out, '');
    assert.match(
      refused.err,
      new RegExp(`^error: ${bad.replace(/[.]/g, '\\.')} was not applied \\(nothing deployed\\)`),
    );
    assert.match(
      refused.err,
      new RegExp(`${bad.replace(/[.]/g, '\\.')}:2:16: found 'permit', expected a rule kind`),
    );
    await noAgentNamed(`${agent}_bad`);
  });
});
