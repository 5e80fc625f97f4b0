/**
 * Run-time enforcement of a DSL policy's `deny: ["write"]`, end to end on the real Temporal, Docker
 * (runc and gVisor) and the control worker's Cedar engine: the definition is applied with `applyFile`,
 * the control side asks `capability:write` on the sandbox's scratch space before each task, and a deny
 * mounts /tmp and /scratch read-only, so the agent's own write fails inside the container (EROFS) and
 * the denial is in the audit trail. The same agent without the deny rule writes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { applyFile } from '../../../src/apply/index.js';
import type { AuditEntry } from '../../../src/audit/index.js';
import {
  copyDefaultPolicies,
  dslName,
  eventually,
  removeRuns,
  startTestRuntime,
  type TestRuntime,
} from '../../helpers/runtime.js';

/** Tries /tmp, then /scratch (the brief's command); prints `wrote` only if the /scratch write worked. */
const WRITE_COMMAND = `["sh", "-c", "echo x > /tmp/t || echo tmp-refused; echo x > /scratch/f && echo wrote"]`;

const definition = (agent: string, rules: string, extra = ''): string => `// capability enforcement test
agent ${agent}(path: String) -> bool {
    capabilities = ["read", "write"]

    policy p {
        ${rules}
    }

    with sandbox = docker, timeout = 20s, max_memory_mb = 64${extra},
         command = ${WRITE_COMMAND} {
        write(path, "x")
    }
}
`;

describe('a DSL deny rule blocks the action at run time', () => {
  let runtime: TestRuntime;
  let policyDir: string;
  let work: string;
  const workflows: string[] = [];

  before(async () => {
    policyDir = await copyDefaultPolicies('ars-capability-policies');
    work = await mkdtemp(join(tmpdir(), 'ars-capability-defs-'));
    runtime = await startTestRuntime({ policyDir });
  });

  after(async () => {
    await removeRuns(runtime.ars, { workflows });
    await runtime.stop();
    await rm(policyDir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  const auditOf = async (agentId: string): Promise<AuditEntry[]> => {
    assert.ok(runtime.control);
    return runtime.control.audit.query({ agentId });
  };
  const writeDecisions = (entries: AuditEntry[]) =>
    entries.filter((e) => e.kind === 'policy.decision' && e.data.action === 'capability:write');
  const denials = (entries: AuditEntry[]) =>
    entries.filter((e) => e.kind === 'security.event' && e.data.type === 'capability_denied');

  const apply = async (file: string, text: string) => {
    const path = join(work, file);
    await writeFile(path, text);
    const result = await applyFile(path, { client: runtime.ars });
    const [applied] = result.agents;
    assert.ok(applied);
    workflows.push(applied.workflowId);
    return { result, applied };
  };

  test('deny: ["write"] → the write fails with EROFS and the denial is audited; without the rule the agent writes', async () => {
    const agent = dslName('scribe');
    const { applied } = await apply(`${agent}.symbi`, definition(agent, 'deny: ["write"]'));
    // applyFile starts the agent right after writing the Cedar file; the grant check reloads from
    // disk first, so no wait for the control worker's watcher is needed.
    const denied = await runtime.ars.result(applied.id);
    assert.equal(denied.state, 'Terminated');
    const run = denied.result;
    assert.ok(run);
    assert.equal(run.outcome, 'failed', JSON.stringify(run));
    assert.notEqual(run.exitCode, 0);
    assert.equal(run.stdout, 'tmp-refused\n', 'the /tmp write failed and "wrote" was never printed');
    assert.match(run.stderr, /can't create \/tmp\/t: Read-only file system/);
    assert.match(run.stderr, /can't create \/scratch\/f: Read-only file system/);
    assert.deepEqual(await runtime.containers(), [], 'the sandbox was removed');

    const entries = await auditOf(applied.id);
    const [decision, ...moreDecisions] = writeDecisions(entries);
    assert.ok(
      decision,
      `a capability:write decision is audited (got ${entries.map((e) => e.kind).join(', ')})`,
    );
    assert.deepEqual(moreDecisions, [], 'one decision for the one task');
    assert.equal(decision.data.decision, 'deny');
    assert.deepEqual(decision.data.reasons, [`${agent}.p.1`]);
    assert.equal(decision.data.principal, `Agent::${agent}`);
    assert.equal(decision.data.resource, 'Resource::sandbox:/scratch');
    assert.deepEqual(decision.data.granted, { write: false, network: false });
    const [denial] = denials(entries);
    assert.ok(denial, 'the denial is a security event');
    assert.equal(denial.data.capability, 'write');
    assert.equal(typeof denial.data.message, 'string');
    assert.match(
      denial.data.message as string,
      new RegExp(`capability write denied .*${agent}\\.p\\.1.*read-only`),
    );
    // Admission comes first, the write decision (before the sandbox is created) after it.
    const seqOf = (e: AuditEntry | undefined) => e?.seq ?? -1;
    assert.ok(seqOf(entries.find((e) => e.kind === 'agent.created')) < seqOf(decision));
    assert.ok(seqOf(decision) < seqOf(entries.find((e) => e.kind === 'agent.terminated')));
    assert.ok(runtime.control);
    const verified = await runtime.control.audit.verify();
    assert.equal(verified.ok, true, JSON.stringify(verified.firstBad));

    // The same agent defined without the deny rule (its policy file is replaced) writes.
    const { applied: again, result } = await apply(
      `${agent}.symbi`,
      definition(agent, 'allow: read(f) if f.in_project == true'),
    );
    const installed = await readFile(result.policyFiles[0]?.path ?? '', 'utf8');
    assert.doesNotMatch(installed, /forbid/);
    const allowed = await runtime.ars.result(again.id);
    assert.equal(allowed.result?.outcome, 'succeeded', JSON.stringify(allowed.result));
    assert.equal(allowed.result?.exitCode, 0);
    assert.equal(allowed.result?.stdout, 'wrote\n');
    assert.equal(allowed.result?.stderr, '');
    const allowedEntries = await auditOf(again.id);
    const [grant] = writeDecisions(allowedEntries);
    assert.equal(grant?.data.decision, 'allow');
    assert.deepEqual(grant?.data.reasons, ['default.sandbox-scratch-write']);
    assert.deepEqual(denials(allowedEntries), []);
  });

  test('the Symbiont example deny: ["network_access", "write"] loads unchanged and is enforced in a gVisor sandbox too', async () => {
    const agent = dslName('guarded');
    const { applied } = await apply(
      `${agent}.symbi`,
      definition(agent, 'deny: ["network_access", "write"]').replace('sandbox = docker', 'sandbox = gvisor'),
    );
    assert.equal(applied.config.tier, 'gvisor');
    const done = await runtime.ars.result(applied.id);
    assert.equal(done.result?.outcome, 'failed', JSON.stringify(done.result));
    assert.equal(done.result?.stdout, 'tmp-refused\n');
    assert.match(done.result?.stderr ?? '', /\/scratch\/f: Read-only file system/);
    const [decision] = writeDecisions(await auditOf(applied.id));
    assert.deepEqual(decision?.data.reasons, [`${agent}.p.1`]);
  });

  test('a persistent agent is checked before every task: a forbid written between tasks applies to the next one', async () => {
    const agent = dslName('keeper');
    const { applied } = await apply(
      `${agent}.symbi`,
      definition(agent, 'allow: read(f) if f.in_project == true', ', memory = persistent'),
    );
    assert.equal(applied.config.mode, 'persistent');
    const task = { command: ['sh', '-c', 'echo x > /scratch/f && echo wrote'] };
    await eventually(
      async () => ((await runtime.ars.status(applied.id)).state === 'Ready' ? true : undefined),
      'the persistent agent to be Ready',
    );
    const first = await runtime.ars.assignTask(applied.id, task);
    const one = await runtime.ars.waitForTask(applied.id, first.seq);
    assert.equal(one.stdout, 'wrote\n', JSON.stringify(one));

    // An operator forbids writes for this agent; no reload is triggered by hand.
    const forbid = join(policyDir, `test-forbid-write-${agent}.cedar`);
    await writeFile(
      forbid,
      `@id("test.no-write-${agent}")
forbid (principal == Ars::Agent::"${agent}", action == Ars::Action::"capability:write", resource);
`,
    );
    try {
      const second = await runtime.ars.assignTask(applied.id, task);
      const two = await runtime.ars.waitForTask(applied.id, second.seq);
      assert.equal(two.outcome, 'failed', JSON.stringify(two));
      assert.equal(two.stdout, '');
      assert.match(two.stderr, /Read-only file system/);
      const decisions = writeDecisions(await auditOf(applied.id));
      assert.deepEqual(
        decisions.map((d) => [d.data.task, d.data.decision, d.data.reasons]),
        [
          [first.seq, 'allow', ['default.sandbox-scratch-write']],
          [second.seq, 'deny', [`test.no-write-${agent}`]],
        ],
      );
    } finally {
      await unlink(forbid);
    }
    await runtime.ars.terminate(applied.id, 'test done');
    await runtime.ars.result(applied.id);
  });
});
