import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { compileAgentConfig } from '../../../src/config/index.js';
import {
  PolicyEngine,
  PolicyLoadError,
  findPoliciesRoot,
  loadPolicySet,
  parseEntityRef,
  PolicyRequestError,
} from '../../../src/policy/index.js';

const root = findPoliciesRoot();
assert.ok(root, 'the shipped policies/ folder must be found');
const schemaPath = join(root, 'ars.cedarschema');

const PERMIT_SEND_SMALL = `
@id("t.send-small")
permit (principal == Ars::Agent::"alice", action == Ars::Action::"SendMessage", resource)
when { context.messageSize <= 100 };
`;
const FORBID_TO_MALLORY = `
@id("t.no-mallory")
forbid (principal, action == Ars::Action::"SendMessage", resource == Ars::Agent::"mallory");
`;

/** A logger that records every error line, to check that failures are logged loudly. */
function recordingLogger(): { logger: pino.Logger; errors: Record<string, unknown>[] } {
  const errors: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'error' },
    { write: (line: string) => errors.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, errors };
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ars-policy-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function policyDir(files: Record<string, string>): string {
  const d = mkdtempSync(join(dir, 'set-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

describe('PolicyEngine decisions', () => {
  test('denies by default when no policy matches, with no reasons and no errors', () => {
    const engine = new PolicyEngine({ policyDir: policyDir({}), schemaPath });
    const d = engine.checkSend({ sender: 'alice', recipient: 'bob', size: 10 });
    assert.deepEqual(d, { decision: 'deny', reasons: [], errors: [] });
  });

  test('permit allows and names the policy; forbid overrides permit and is the reason', () => {
    const engine = new PolicyEngine({
      policyDir: policyDir({ 'a.cedar': PERMIT_SEND_SMALL, 'b.cedar': FORBID_TO_MALLORY }),
      schemaPath,
    });
    assert.deepEqual(engine.checkSend({ sender: 'alice', recipient: 'bob', size: 10 }), {
      decision: 'allow',
      reasons: ['t.send-small'],
      errors: [],
    });
    assert.deepEqual(engine.checkSend({ sender: 'alice', recipient: 'bob', size: 101 }), {
      decision: 'deny',
      reasons: [],
      errors: [],
    });
    assert.deepEqual(engine.checkSend({ sender: 'alice', recipient: 'mallory', size: 10 }), {
      decision: 'deny',
      reasons: ['t.no-mallory'],
      errors: [],
    });
  });

  test('policies without @id get <file>:<line> ids', () => {
    const engine = new PolicyEngine({
      policyDir: policyDir({
        'p.cedar': '\n\npermit (principal, action == Ars::Action::"Subscribe", resource);\n',
      }),
      schemaPath,
    });
    const d = engine.checkSubscribe('a', 't');
    assert.equal(d.decision, 'allow');
    assert.equal(d.reasons.length, 1);
    assert.match(d.reasons[0] ?? '', /p\.cedar:3$/);
  });

  test('the default policy set: creation within limits allowed, tier must match risk, big messages forbidden', () => {
    const engine = new PolicyEngine();
    const ok = compileAgentConfig({ name: 'worker', risk: 'medium', sandbox: { command: ['true'] } });
    const created = engine.checkCreateAgent(ok);
    assert.equal(created.decision, 'allow');
    assert.deepEqual([...created.reasons].sort(), ['default.operator-create-agent', 'default.tier-for-risk']);
    const weakTier = compileAgentConfig({
      name: 'worker',
      risk: 'high',
      tier: 'docker',
      sandbox: { command: ['true'] },
    });
    assert.deepEqual(engine.checkCreateAgent(weakTier), { decision: 'deny', reasons: [], errors: [] });
    const huge = compileAgentConfig({
      name: 'w',
      resources: { memoryMb: 8192 },
      sandbox: { command: ['true'] },
    });
    assert.equal(engine.checkCreateAgent(huge).decision, 'deny');
    assert.deepEqual(engine.checkSend({ sender: 'a', recipient: 'b', size: 2_000_000 }), {
      decision: 'deny',
      reasons: ['default.forbid-large-messages'],
      errors: [],
    });
    assert.deepEqual(engine.checkSend({ sender: 'a', topic: 'ars.control', size: 1 }).reasons, [
      'default.forbid-agent-publish-system-topics',
    ]);
    assert.equal(
      engine.checkAllocate({ agent: 'a', limits: { memoryMb: 256, cpus: 0.5, timeoutMs: 1000 } }).decision,
      'allow',
    );
    assert.equal(engine.afterTermination({ agent: 'a', reason: 'completed' }).decision, 'allow');
    assert.deepEqual(
      engine.afterTermination({ agent: 'b', by: { type: 'Agent', id: 'a' }, reason: 'killed' }).reasons,
      ['default.forbid-agent-terminates-other'],
    );
    // Capabilities are denied unless a policy permits them.
    assert.equal(
      engine.checkCapability({
        agent: 'a',
        capability: 'read',
        resourceId: '/x',
        attributes: { in_project: true },
      }).decision,
      'deny',
    );
  });

  test('the example capability policies (the DSL shape) decide on resource attributes', () => {
    const engine = new PolicyEngine({ policyDir: join(root, 'examples'), schemaPath });
    const read = (in_project: boolean) =>
      engine.checkCapability({
        agent: 'researcher',
        capability: 'read',
        resourceId: '/p/a.txt',
        attributes: { kind: 'file', in_project },
      });
    assert.deepEqual(read(true), {
      decision: 'allow',
      reasons: ['example.researcher-read-project'],
      errors: [],
    });
    assert.equal(read(false).decision, 'deny');
    const http = engine.checkCapability({
      agent: 'researcher',
      capability: 'net:http',
      resourceId: 'u',
      attributes: { host: 'evil.com' },
    });
    assert.equal(http.decision, 'deny');
  });

  test('an invalid request is a deny carrying the error (fail closed), logged at error level', () => {
    const { logger, errors } = recordingLogger();
    const engine = new PolicyEngine({
      policyDir: policyDir({ 'a.cedar': PERMIT_SEND_SMALL }),
      schemaPath,
      logger,
    });
    const unknownAction = engine.authorize({
      principal: { type: 'Agent', id: 'alice' },
      action: 'capability:teleport',
      resource: { type: 'Resource', id: 'x' },
    });
    assert.equal(unknownAction.decision, 'deny');
    assert.match(unknownAction.errors[0] ?? '', /capability:teleport.*does not exist/);
    const both = engine.checkSend({ sender: 'alice', recipient: 'b', topic: 't', size: 1 });
    assert.equal(both.decision, 'deny');
    assert.match(both.errors[0] ?? '', /resource id must be a non-empty string/);
    assert.equal(errors.length, 2);
    assert.match(String(errors[0]?.msg), /fail closed/);
  });
});

describe('PolicyEngine loading and reload', () => {
  test('a broken policy file makes every decision deny, naming the file and line, logged loudly', () => {
    const { logger, errors } = recordingLogger();
    const d = policyDir({
      'good.cedar': PERMIT_SEND_SMALL,
      'bad.cedar': '// comment\n\npermit (principal, action, resource)\nwhen { context.messageSize > };\n',
    });
    const engine = new PolicyEngine({ policyDir: d, schemaPath, logger });
    assert.equal(engine.status.ok, false);
    const decision = engine.checkSend({ sender: 'alice', recipient: 'bob', size: 10 });
    assert.equal(decision.decision, 'deny');
    assert.match(decision.errors[0] ?? '', /bad\.cedar:4:\d+: .*unexpected token/);
    assert.ok(errors.some((e) => /POLICIES FAILED TO LOAD/.test(String(e.msg))));
    assert.ok(errors.some((e) => /fail closed/.test(String(e.msg))));
  });

  test('a policy that does not validate against the schema is reported with its file and line', () => {
    const d = policyDir({
      'typo.cedar':
        '\n@id("x")\npermit (principal, action == Ars::Action::"SendMessage", resource)\nwhen { context.mesageSize > 1 };\n',
    });
    const result = loadPolicySet(d, schemaPath);
    assert.equal(result.ok, false);
    if (result.ok) return;
    const problem = result.problems[0];
    assert.ok(problem instanceof PolicyLoadError);
    assert.equal(problem.code, 'ARS_POLICY_LOAD_FAILED');
    assert.match(problem.file, /typo\.cedar$/);
    assert.equal(problem.line, 4);
    assert.match(problem.message, /mesageSize.*not found.*did you mean `messageSize`/);
  });

  test('duplicate @id values are rejected', () => {
    const d = policyDir({ 'a.cedar': PERMIT_SEND_SMALL, 'b.cedar': PERMIT_SEND_SMALL });
    const engine = new PolicyEngine({ policyDir: d, schemaPath });
    assert.match(engine.status.error ?? '', /b\.cedar:2:1: policy id 't\.send-small' is already used/);
  });

  test('reload swaps the policies, bumps the version and invalidates cached decisions', () => {
    const d = policyDir({ 'a.cedar': PERMIT_SEND_SMALL });
    const engine = new PolicyEngine({ policyDir: d, schemaPath });
    const meta = { sender: 'alice', recipient: 'mallory', size: 10 };
    assert.equal(engine.version, 1);
    assert.equal(engine.checkSend(meta).decision, 'allow');
    assert.equal(engine.checkSend(meta).decision, 'allow');
    assert.equal(engine.cacheStats.hits, 1, 'the second identical request is answered from the cache');
    writeFileSync(join(d, 'b.cedar'), FORBID_TO_MALLORY);
    const seen: number[] = [];
    engine.onReload((s) => seen.push(s.version));
    engine.reload();
    assert.equal(engine.version, 2);
    assert.deepEqual(seen, [2]);
    assert.equal(engine.cacheStats.size, 0);
    assert.deepEqual(engine.checkSend(meta), { decision: 'deny', reasons: ['t.no-mallory'], errors: [] });
    // Breaking a file at runtime fails closed; fixing it restores decisions.
    writeFileSync(join(d, 'b.cedar'), 'forbid (');
    engine.reload();
    assert.match(
      engine.checkSend({ sender: 'alice', recipient: 'bob', size: 1 }).errors[0] ?? '',
      /b\.cedar:1:/,
    );
    writeFileSync(join(d, 'b.cedar'), '');
    engine.reload();
    assert.equal(engine.checkSend({ sender: 'alice', recipient: 'bob', size: 1 }).decision, 'allow');
    assert.equal(engine.version, 4);
  });

  test('the file watcher reloads on change', async () => {
    const d = policyDir({ 'a.cedar': PERMIT_SEND_SMALL });
    const engine = new PolicyEngine({ policyDir: d, schemaPath, watch: true, watchDebounceMs: 20 });
    try {
      const reloaded = new Promise<void>((resolve) => engine.onReload(() => resolve()));
      writeFileSync(join(d, 'b.cedar'), FORBID_TO_MALLORY);
      await Promise.race([
        reloaded,
        new Promise((_, reject) => setTimeout(() => reject(new Error('no reload within 5 s')), 5000)),
      ]);
      assert.equal(engine.checkSend({ sender: 'alice', recipient: 'mallory', size: 1 }).decision, 'deny');
    } finally {
      engine.close();
    }
  });

  test('text sources (compiled DSL rules) are loaded and replaced by name', () => {
    const engine = new PolicyEngine({ policyDir: policyDir({}), schemaPath });
    const meta = { agent: 'r', capability: 'read', resourceId: 'f', attributes: { in_project: true } };
    assert.equal(engine.checkCapability(meta).decision, 'deny');
    engine.setSource(
      'dsl/r',
      'permit(principal == Ars::Agent::"r", action == Ars::Action::"capability:read", resource) when { resource.in_project == true };',
    );
    assert.deepEqual(engine.checkCapability(meta), { decision: 'allow', reasons: ['dsl/r:1'], errors: [] });
    engine.setSource('dsl/r', undefined);
    assert.equal(engine.checkCapability(meta).decision, 'deny');
  });

  test('the time given to policies is rounded so that the cache stays effective', () => {
    let now = Date.UTC(2025, 0, 1, 12, 0, 1);
    const engine = new PolicyEngine({
      policyDir: policyDir({ 'a.cedar': PERMIT_SEND_SMALL }),
      schemaPath,
      now: () => now,
    });
    engine.checkSend({ sender: 'alice', recipient: 'b', size: 1 });
    now += 30_000;
    engine.checkSend({ sender: 'alice', recipient: 'b', size: 1 });
    assert.equal(engine.cacheStats.hits, 1);
    now += 60_000;
    engine.checkSend({ sender: 'alice', recipient: 'b', size: 1 });
    assert.equal(engine.cacheStats.misses, 2);
  });

  test('the shipped policies (default and examples) validate', () => {
    for (const sub of ['default', 'examples']) {
      const r = loadPolicySet(join(root, sub), schemaPath);
      assert.ok(r.ok, `${sub}: ${r.ok ? '' : r.problems.map((p) => p.message).join('\n')}`);
    }
  });
});

describe('entity references', () => {
  test('parses the Cedar form and the short forms; rejects unknown types with a clear error', () => {
    assert.deepEqual(parseEntityRef('Ars::Agent::"a b"'), { type: 'Agent', id: 'a b' });
    assert.deepEqual(parseEntityRef('Topic::news'), { type: 'Topic', id: 'news' });
    assert.throws(
      () => parseEntityRef('Ars::User::"x"'),
      (e: unknown) => e instanceof PolicyRequestError && /entity type 'User' is unknown/.test(e.message),
    );
  });
});
