import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../../src/config/index.js';
import {
  agentBusId,
  compileGatewayOptions,
  gatewayFrameSchema,
  rendezvous,
} from '../../../src/gateway/index.js';

describe('gateway building blocks', () => {
  test('options: defaults, and a bad combination is named', () => {
    const o = compileGatewayOptions({});
    assert.match(o.id, /^gw-/);
    assert.equal(o.heartbeatTtlMs, 5_000);
    assert.throws(
      () => compileGatewayOptions({ heartbeatIntervalMs: 5_000, heartbeatTtlMs: 1_000 }),
      (e: unknown) => e instanceof ConfigError && /heartbeatTtlMs/.test(e.message),
    );
    assert.throws(
      () => compileGatewayOptions({ id: 'has space' }),
      (e: unknown) => e instanceof ConfigError && /id/.test(e.message),
    );
  });

  test('frames: every op validated; unknown ops and extra fields refused', () => {
    const ok = gatewayFrameSchema.safeParse({
      op: 'deliver',
      rid: 'r1',
      replyTo: 'gw1',
      to: 'worker/1',
      type: 'square',
      payload: { n: 1 },
      reply: true,
    });
    assert.ok(ok.success);
    assert.ok(gatewayFrameSchema.safeParse({ op: 'ok', rid: 'r1' }).success, 'an undefined result');
    for (const bad of [
      { op: 'explode', rid: 'r1' },
      { op: 'ok', rid: 'r1', value: 1, extra: true },
      { op: 'deliver', rid: 'r1', replyTo: 'bad id!', to: 'w/1', type: 't', reply: false },
      { op: 'fail', rid: 'r1', error: { message: 'no name' } },
    ])
      assert.equal(gatewayFrameSchema.safeParse(bad).success, false, JSON.stringify(bad));
  });

  test('rendezvous placement is deterministic, spreads ids, and moves only the ids of a removed gateway', () => {
    const gateways = ['a', 'b', 'c'];
    const ids = Array.from({ length: 3_000 }, (_, i) => `worker/${i}`);
    const placed = new Map(ids.map((id) => [id, rendezvous(id, gateways)]));
    for (const g of gateways) {
      const share = [...placed.values()].filter((p) => p === g).length / ids.length;
      assert.ok(share > 0.28 && share < 0.39, `gateway ${g} gets ${share}`);
    }
    for (const id of ids) {
      const after = rendezvous(id, ['a', 'c']);
      if (placed.get(id) !== 'b') assert.equal(after, placed.get(id), 'ids of live gateways stay');
    }
    assert.equal(rendezvous('x/1', []), undefined);
  });

  test('agent bus ids are fixed-length, bus-safe and distinct', () => {
    const a = agentBusId('worker/1');
    assert.match(a, /^a\.[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a, agentBusId('worker/2'));
    assert.equal(a, agentBusId('worker/1'));
  });
});
