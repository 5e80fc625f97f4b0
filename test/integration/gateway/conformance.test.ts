/**
 * The runtime conformance suite against the distributed runtime: the subject agent type hosted by
 * three gateway processes (what three host workers run), the test's probe and gate agents by a
 * gateway in this process; every message crosses Redis Streams signed and encrypted.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createInProcessRuntime, type StateSnapshot } from '../../../src/sdk/index.js';
import { randomId } from '../../../src/util/ids.js';
import { Probe, SUBJECT_MODULE } from '../../conformance/harness.js';
import { subject } from '../../conformance/fixtures/subject-agent.js';
import { describeConformance } from '../../conformance/suite.js';
import { createCluster } from './harness.js';

const HOSTS = ['host-a', 'host-b', 'host-c'];

describeConformance({
  name: 'distributed: 3 gateway processes on Redis Streams (signed + encrypted)',
  async create() {
    const cluster = createCluster();
    const probe = new Probe();
    try {
      await Promise.all(HOSTS.map((id) => cluster.spawn(`${id}-${cluster.prefix}`, [SUBJECT_MODULE])));
      const node = await cluster.local({
        agents: [probe.probeAgent, probe.gateAgent],
        gateway: { id: `test-${cluster.prefix}`, requestTimeoutMs: 10_000 },
      });
      return { runtime: node.gateway, probe, close: () => cluster.close() };
    } catch (error) {
      await cluster.close();
      throw error;
    }
  },
});

describe('distributed runtime: placement and state', () => {
  test('agent ids spread over the three gateway processes, each served by one of them', async () => {
    const cluster = createCluster();
    try {
      const ids = HOSTS.map((h) => `${h}-${cluster.prefix}`);
      await Promise.all(ids.map((id) => cluster.spawn(id, [SUBJECT_MODULE])));
      const probe = new Probe();
      const node = await cluster.local({
        agents: [probe.probeAgent],
        gateway: { id: `test-${cluster.prefix}` },
      });
      const keys = Array.from({ length: 30 }, (_, i) => `subject/k${i}`);
      for (const key of keys) await node.gateway.request(key, 'incr', { by: 1 });
      const hosts = await node.gateway.hosts();
      const active = new Map(hosts.map((h) => [h.info.id, h]));
      for (const id of ids) assert.equal(active.get(id)?.alive, true, `${id} is alive`);
      // Every id answered twice by the same instance (state kept): placement is stable.
      for (const key of keys) assert.equal(await node.gateway.request(key, 'incr', { by: 1 }), 2);
      await new Promise((r) => setTimeout(r, 400)); // one heartbeat: the load is advertised
      const load = (await node.gateway.hosts())
        .filter((h) => ids.includes(h.info.id))
        .map((h) => h.info.active);
      assert.equal(
        load.reduce((a, b) => a + b, 0),
        keys.length,
      );
      assert.ok(
        load.every((n) => n > 0),
        `every gateway process serves some agents: ${load.join(', ')}`,
      );
    } finally {
      await cluster.close();
    }
  });

  test('state moves between the in-process runtime and the distributed one, both ways', async () => {
    const cluster = createCluster();
    const inProcess = createInProcessRuntime();
    try {
      await inProcess.register(subject);
      await Promise.all(HOSTS.map((h) => cluster.spawn(`${h}-${cluster.prefix}`, [SUBJECT_MODULE])));
      const node = await cluster.local({ gateway: { id: `test-${cluster.prefix}` } });
      const a = `subject/${randomId('k')}`;
      await inProcess.request(a, 'incr', { by: 41 });
      await inProcess.request(a, 'news', { text: 'kept' });
      await node.gateway.restoreState(a, (await inProcess.saveState(a)) as StateSnapshot);
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 42);
      const back = (await node.gateway.saveState(a)) as StateSnapshot;
      assert.deepEqual(back.state, { count: 42, received: ['kept'] });
      const b = `subject/${randomId('k')}`;
      await inProcess.restoreState(b, back);
      assert.deepEqual(await inProcess.request(b, 'get-state', {}), { count: 42, received: ['kept'] });
    } finally {
      await inProcess.close();
      await cluster.close();
    }
  });
});
