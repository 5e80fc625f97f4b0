import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { AuditLog, generateAuditSigner } from '../../../src/audit/index.js';
import { PolicyEngine } from '../../../src/policy/index.js';
import { busAuditToLog, busPolicyFromEngine } from '../../../src/runtime/index.js';
import { randomId } from '../../../src/util/ids.js';
import { craftFrame, testEnv, type Env } from '../bus/helpers.js';
import { deleteKeys, eventually } from '../../helpers/runtime.js';

const REDIS_URL = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const shippedPolicies = fileURLToPath(new URL('../../../../policies/default', import.meta.url));

describe('the bus asks Cedar before sending and audits to the trail', () => {
  let env: Env;
  let policyDir: string;
  let engine: PolicyEngine;
  let redis: ReturnType<typeof createClient>;
  let audit: AuditLog;
  const auditPrefix = randomId('ars-test-audit');

  before(async () => {
    policyDir = await mkdtemp(join(tmpdir(), 'ars-policies-'));
    await cp(shippedPolicies, policyDir, { recursive: true });
    await writeFile(
      join(policyDir, 'test-vault.cedar'),
      '@id("test.no-vault")\nforbid (principal, action == Ars::Action::"SendMessage", resource == Ars::Agent::"vault");\n',
    );
    engine = new PolicyEngine({ policyDir });
    assert.equal(engine.status.ok, true, engine.status.error);
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
    audit = new AuditLog(redis, generateAuditSigner(), { keyPrefix: auditPrefix });
    env = await testEnv();
  });
  after(async () => {
    await env.cleanup();
    await audit.flush();
    await redis.close();
    await deleteKeys(REDIS_URL, `${auditPrefix}*`);
    engine.close();
    await rm(policyDir, { recursive: true, force: true });
  });

  test('a denied message is not delivered, is dead-lettered as policy_denied, and is audited', async () => {
    const bus = await env.bus({ policy: busPolicyFromEngine(engine), audit: busAuditToLog(audit) });
    await bus.register('alice');
    await bus.register('vault');
    await bus.register('bob');
    const received: string[] = [];
    await bus.consume('vault', (message) => void received.push(message.payload.toString()));
    await bus.consume('bob', (message) => void received.push(`bob:${message.payload.toString()}`));

    const denied = await bus.send({ from: 'alice', to: 'vault', payload: 'the secrets please' });
    assert.equal(denied.status, 'dead_lettered');
    assert.equal(denied.status === 'dead_lettered' && denied.reason, 'policy_denied');
    assert.match(denied.status === 'dead_lettered' ? denied.detail : '', /test\.no-vault/);
    const allowed = await bus.send({ from: 'alice', to: 'bob', payload: 'hello' });
    assert.equal(allowed.status, 'queued');
    await bus.flush();

    await eventually(() => (received.includes('bob:hello') ? true : undefined), 'allowed message delivered');
    assert.deepEqual(received, ['bob:hello'], 'the denied message never arrived');
    const letters = await bus.deadLetters.list({ count: 10 });
    assert.ok(letters.some((l) => l.messageId === denied.id && l.reason === 'policy_denied'));

    const dropped = await eventually(async () => {
      const entries = await audit.query({ kind: 'message.dropped' });
      return entries.find((e) => e.data.messageId === denied.id);
    }, 'drop audited');
    assert.equal(dropped.data.reason, 'policy_denied');
    assert.equal(dropped.actor, 'agent:alice', 'the bus checked who sent it: alice is its actor');
    const sent = await eventually(async () => {
      const entries = await audit.query({ kind: 'message.delivered' });
      return entries.find((e) => e.data.messageId === allowed.id);
    }, 'delivery audited');
    assert.equal(sent.data.recipient, 'bob');
    assert.equal((await audit.verify()).ok, true);
  });

  test('a forged frame is audited as the bus’s drop, its claimed sender named as unverified, not as an actor', async () => {
    const bus = await env.bus({ audit: busAuditToLog(audit) });
    await bus.register('alice');
    await bus.consume('erin', () => undefined);
    const forged = await craftFrame(env.keystore, { from: 'alice', to: 'erin', forgeSignature: true });
    await env.inject('erin', forged);
    const dropped = await eventually(async () => {
      const entries = await audit.query({ kind: 'message.dropped' });
      return entries.find((e) => e.data.messageId === forged.id);
    }, 'forged drop audited');
    assert.equal(dropped.data.reason, 'bad_signature');
    assert.equal(dropped.actor, 'bus');
    assert.equal(dropped.data.sender, 'alice');
    assert.equal(dropped.data.senderVerified, false);
    assert.equal((await audit.verify()).ok, true);
  });

  test('an engine that cannot answer denies every message (fail closed)', async () => {
    const broken = await mkdtemp(join(tmpdir(), 'ars-policies-broken-'));
    await writeFile(join(broken, 'bad.cedar'), 'permit (principal, action, resource) when {');
    const failing = new PolicyEngine({ policyDir: broken });
    try {
      const bus = await env.bus({ policy: busPolicyFromEngine(failing) });
      await bus.register('carol');
      await bus.register('dave');
      const result = await bus.send({ from: 'carol', to: 'dave', payload: 'x' });
      assert.equal(result.status === 'dead_lettered' && result.reason, 'policy_denied');
      assert.match(result.status === 'dead_lettered' ? result.detail : '', /bad\.cedar/);
    } finally {
      failing.close();
      await rm(broken, { recursive: true, force: true });
    }
  });
});
