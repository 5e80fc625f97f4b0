/**
 * The run-time capability grants of a sandbox, computed by the real Cedar engine over the shipped
 * default policy set plus DSL-compiled rules: `capability:write` on the scratch space.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { compileSource } from '../../../src/dsl/index.js';
import {
  PolicyEngine,
  SANDBOX_SCRATCH_RESOURCE_ID,
  findPoliciesRoot,
  sandboxGrantsFrom,
  sandboxWriteRequest,
} from '../../../src/policy/index.js';

const found = findPoliciesRoot();
assert.ok(found, 'the shipped policies/ folder must be found');
const root: string = found;
const schemaPath = join(root, 'ars.cedarschema');
const schemaText = readFileSync(schemaPath, 'utf8');

const input = { agent: 'scribe', hostId: 'h1', scratchMb: 64 };

/** Cedar text of the DSL agent `scribe` with the given policy rules (validated against the schema). */
function dslPolicy(rules: string): string {
  const result = compileSource(
    `agent scribe() -> bool {\n    policy p {\n        ${rules}\n    }\n    with command = ["true"] { true }\n}\n`,
    { file: 'scribe.symbi', cedarSchema: schemaText },
  );
  assert.equal(result.ok, true, JSON.stringify(result.problems));
  return result.policies.map((p) => p.text).join('\n\n');
}

let dir: string;
let n = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ars-grants-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh copy of the shipped default policies. */
function defaults(): string {
  const d = join(dir, `set-${++n}`);
  cpSync(join(root, 'default'), d, { recursive: true });
  return d;
}

describe('sandbox capability grants', () => {
  test('the question: capability:write on the scratch space, with every resource attribute filled', () => {
    assert.deepEqual(sandboxWriteRequest(input), {
      agent: 'scribe',
      capability: 'write',
      resourceId: SANDBOX_SCRATCH_RESOURCE_ID,
      attributes: {
        kind: 'sandbox',
        name: 'scratch',
        path: '/scratch',
        host: 'h1',
        in_project: true,
        size: 64 * 1024 * 1024,
        tags: ['/scratch', '/tmp', 'tmpfs'],
      },
    });
  });

  test('the default policy set grants write to an ordinary agent, and never network', () => {
    const engine = new PolicyEngine({ policyDir: defaults(), schemaPath });
    const outcome = engine.checkSandboxCapabilities(input);
    assert.deepEqual(outcome.grants, { write: true, network: false });
    assert.deepEqual(outcome.write.reasons, ['default.sandbox-scratch-write']);
  });

  test('a DSL `deny: ["write"]` overrides the default permit for that agent only', () => {
    const engine = new PolicyEngine({
      policyDir: defaults(),
      schemaPath,
      sources: [{ name: 'dsl/scribe', text: dslPolicy('deny: ["write"]') }],
    });
    const denied = engine.checkSandboxCapabilities(input);
    assert.deepEqual(denied.grants, { write: false, network: false });
    assert.deepEqual(denied.write, { decision: 'deny', reasons: ['scribe.p.1'], errors: [] });
    assert.equal(engine.checkSandboxCapabilities({ ...input, agent: 'other' }).grants.write, true);
  });

  test('the Symbiont example `deny: ["network_access", "write"]` compiles against the schema and denies write', () => {
    const engine = new PolicyEngine({
      policyDir: defaults(),
      schemaPath,
      sources: [{ name: 'dsl/scribe', text: dslPolicy('deny: ["network_access", "write"]') }],
    });
    assert.equal(engine.status.ok, true, engine.status.error);
    assert.equal(engine.checkSandboxCapabilities(input).grants.write, false);
    const net = engine.checkCapability({ agent: 'scribe', capability: 'network_access', resourceId: 'x' });
    assert.deepEqual(net.reasons, ['scribe.p.1']);
  });

  test('conditional rules see the resource: a forbid on another path leaves the scratch space writable', () => {
    const elsewhere = new PolicyEngine({
      policyDir: defaults(),
      schemaPath,
      sources: [{ name: 'dsl/scribe', text: dslPolicy('deny: write(f) if f.path == "/data"') }],
    });
    assert.equal(elsewhere.checkSandboxCapabilities(input).grants.write, true);
    const sandboxes = new PolicyEngine({
      policyDir: defaults(),
      schemaPath,
      sources: [{ name: 'dsl/scribe', text: dslPolicy('deny: write(f) if f.kind == "sandbox"') }],
    });
    assert.equal(sandboxes.checkSandboxCapabilities(input).grants.write, false);
  });

  test('deny by default: without the default permit no sandbox is writable', () => {
    const engine = new PolicyEngine({ policyDir: policyDirWith({}), schemaPath });
    const outcome = engine.checkSandboxCapabilities(input);
    assert.deepEqual(outcome.grants, { write: false, network: false });
    assert.deepEqual(outcome.write, { decision: 'deny', reasons: [], errors: [] });
  });

  test('fail closed: a policy set that does not load grants nothing', () => {
    const engine = new PolicyEngine({
      policyDir: policyDirWith({ 'bad.cedar': 'permit (principal, action, resource) when { nope };' }),
      schemaPath,
    });
    const outcome = engine.checkSandboxCapabilities(input);
    assert.equal(outcome.grants.write, false);
    assert.equal(outcome.write.decision, 'deny');
    assert.match(outcome.write.errors[0] ?? '', /bad\.cedar/);
  });

  test('only an allow without errors grants write', () => {
    assert.equal(sandboxGrantsFrom({ decision: 'allow', reasons: ['x'], errors: [] }).grants.write, true);
    assert.equal(sandboxGrantsFrom({ decision: 'deny', reasons: [], errors: [] }).grants.write, false);
    assert.equal(sandboxGrantsFrom({ decision: 'allow', reasons: [], errors: ['boom'] }).grants.write, false);
  });

  test('refresh() picks up a policy file written since the last load, without a watcher', () => {
    const policyDir = defaults();
    const engine = new PolicyEngine({ policyDir, schemaPath });
    assert.equal(engine.refresh(), false, 'nothing changed');
    assert.equal(engine.checkSandboxCapabilities(input).grants.write, true);
    const file = join(policyDir, 'scribe.cedar');
    writeFileSync(file, dslPolicy('deny: ["write"]'));
    const version = engine.version;
    assert.equal(engine.refresh(), true);
    assert.equal(engine.version, version + 1);
    assert.equal(engine.checkSandboxCapabilities(input).grants.write, false);
    // A rewrite of the same size is seen through its modification time.
    writeFileSync(file, dslPolicy('allow: ["write"]'));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    assert.equal(engine.refresh(), true);
    assert.equal(engine.checkSandboxCapabilities(input).grants.write, true);
    rmSync(file);
    assert.equal(engine.refresh(), true, 'a removed file is a change');
    assert.equal(engine.refresh(), false);
  });
});

function policyDirWith(files: Record<string, string>): string {
  const d = mkdtempSync(join(dir, 'own-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}
