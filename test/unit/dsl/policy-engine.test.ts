// The compiled DSL policy loaded into the ARS policy engine (src/policy, real Cedar, the shipped
// schema and default policies): its deny rule blocks the capability, its conditional allow lets the
// in-project read through.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { compileFile, type CompileResult } from '../../../src/dsl/index.js';
import { PolicyEngine } from '../../../src/policy/index.js';
import { repoPath } from './ast-helpers.js';

describe('DSL policy in the ARS policy engine', () => {
  let compiled: CompileResult;
  let engine: PolicyEngine;

  before(async () => {
    compiled = await compileFile(repoPath('examples/dsl/guarded-writer.dsl'), {
      cedarSchema: readFileSync(repoPath('policies/ars.cedarschema'), 'utf8'),
    });
    assert.deepEqual(compiled.problems, []);
    engine = new PolicyEngine({
      cacheSize: 0,
      sources: compiled.policies.map((p) => ({ name: `dsl:${p.id}`, text: p.text })),
    });
  });
  after(() => engine?.close());

  test('the deny rule blocks write', () => {
    const d = engine.checkCapability({
      agent: 'guarded_writer',
      capability: 'write',
      resourceId: '/work/out.txt',
      attributes: { in_project: true },
    });
    assert.equal(d.decision, 'deny');
    assert.deepEqual(d.errors, []);
    assert.ok(d.reasons.includes('guarded_writer.no_writes.2'), `reasons: ${d.reasons.join(', ')}`);
  });

  test('the conditional allow permits an in-project read and nothing else', () => {
    const inside = engine.checkCapability({
      agent: 'guarded_writer',
      capability: 'read',
      resourceId: '/work/a.txt',
      attributes: { in_project: true },
    });
    assert.equal(inside.decision, 'allow', JSON.stringify(inside));
    assert.deepEqual(inside.reasons, ['guarded_writer.no_writes.1']);
    const outside = engine.checkCapability({
      agent: 'guarded_writer',
      capability: 'read',
      resourceId: '/etc/passwd',
      attributes: { in_project: false },
    });
    assert.equal(outside.decision, 'deny');
    const other = engine.checkCapability({
      agent: 'someone_else',
      capability: 'read',
      resourceId: '/work/a.txt',
      attributes: { in_project: true },
    });
    assert.equal(other.decision, 'deny');
  });
});
