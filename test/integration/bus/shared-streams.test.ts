import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BusUsageError } from '../../../src/bus/index.js';
import { ConfigError } from '../../../src/config/errors.js';
import { collector, sleep, testEnv, type Env } from './helpers.js';

/**
 * The shared topic and broadcast streams are trimmed to what every group still needs; a group that
 * falls more than sharedStreamMaxLen entries behind loses the oldest, and gets a `trimmed` dead letter
 * for them — never a silent loss.
 */
describe('shared streams: trimmed by what the groups still need, never silently', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  const topics = (): string => `${env.prefix}:topics`;

  test('entries every group has finished are trimmed away', async () => {
    const bus = await env.bus({ options: { sharedStreamTrimMs: 50 } });
    const got = collector();
    await bus.subscribe({ agentId: 's1', topic: 'prices', handler: got.handler });
    for (let i = 0; i < 600; i++) void bus.publish({ from: 'feed', topic: 'prices', payload: `p${i}` });
    await bus.flush();
    await got.waitFor(600);
    const deadline = Date.now() + 3000;
    let len = Infinity;
    while (Date.now() < deadline) {
      len = await env.redis.xLen(topics());
      if (len < 200) break;
      await sleep(50);
    }
    assert.ok(len < 200, `the topics stream still holds ${len} entries`);
  });

  test('a subscription behind by less than the cap loses nothing', async () => {
    const bus = await env.bus({ options: { sharedStreamTrimMs: 50, sharedStreamMaxLen: 1000 } });
    const first = collector();
    const sub = await bus.subscribe({
      agentId: 's2',
      name: 'lagging-2',
      topic: 'news',
      handler: first.handler,
    });
    await sub.close(); // the group stays: a durable subscription
    for (let i = 0; i < 500; i++) await bus.publish({ from: 'feed', topic: 'news', payload: `n${i}` });
    await sleep(300); // several trims
    const again = collector();
    await bus.subscribe({ agentId: 's2', name: 'lagging-2', topic: 'news', handler: again.handler });
    await again.waitFor(500);
    assert.equal(new Set(again.messages.map((m) => m.payload.toString())).size, 500);
    const letters = (await bus.deadLetters.list({ count: 1000 })).filter((d) => d.group === 'sub:lagging-2');
    assert.deepEqual(letters, []);
  });

  test('a subscription behind by more than the cap gets `trimmed` dead letters for what it lost, once each', async () => {
    const bus = await env.bus({ options: { sharedStreamTrimMs: 50, sharedStreamMaxLen: 100 } });
    const sub = await bus.subscribe({
      agentId: 's3',
      name: 'lagging-3',
      topic: 'ticks',
      handler: () => undefined,
    });
    await sub.close();
    for (let i = 0; i < 300; i++) await bus.publish({ from: 'feed', topic: 'ticks', payload: `t${i}` });
    await sleep(300);
    const mine = async (): Promise<string[]> =>
      (await bus.deadLetters.list({ count: 1000 }))
        .filter((d) => d.group === 'sub:lagging-3')
        .map((d) => `${d.reason} ${d.detail}`);
    const letters = await mine();
    assert.ok(letters.length >= 1, 'dead-lettered');
    for (const l of letters)
      assert.match(
        l,
        /^trimmed .*held more than sharedStreamMaxLen \(100\) entries: the entries below \d+-\d+ that group 'sub:lagging-3' had not finished \(it was at \d+-\d+\) were cut$/,
      );
    assert.equal(new Set(letters).size, letters.length, 'each lost range is reported once');
    await sleep(300); // more trims, nothing new lost: no new dead letter
    assert.equal((await mine()).length, letters.length);
    // what is left is still delivered, the newest last
    const again = collector();
    await bus.subscribe({ agentId: 's3', name: 'lagging-3', topic: 'ticks', handler: again.handler });
    await again.waitFor(100); // the cap: exactly the newest 100 are left
    await sleep(100);
    assert.deepEqual(
      again.messages.map((m) => m.payload.toString()),
      Array.from({ length: 100 }, (_, i) => `t${200 + i}`),
    );
  });

  const groupsOf = async (stream: string): Promise<string[]> =>
    (await env.redis.sendCommand<unknown[][]>(['XINFO', 'GROUPS', stream])).map((g) => String(g[1]));

  test('unsubscribe ends a durable subscription: its consumers stop and its group is gone', async () => {
    const bus = await env.bus({ options: { sharedStreamTrimMs: 50 } });
    const live = collector();
    const sub = await bus.subscribe({
      agentId: 's4',
      name: 'gone-4',
      topic: 'quotes',
      handler: live.handler,
    });
    await sub.close(); // closed, not ended: the group keeps what arrives
    for (let i = 0; i < 300; i++) void bus.publish({ from: 'feed', topic: 'quotes', payload: `q${i}` });
    await bus.flush();
    await sleep(200);
    assert.ok(await groupsOf(topics()).then((g) => g.includes('sub:gone-4')));
    // a second subscriber of the same group in this bus is stopped by unsubscribe
    const other = collector();
    await bus.subscribe({ agentId: 's4', name: 'gone-4', topic: 'quotes', handler: other.handler });
    await other.waitFor(300); // what the closed subscription kept
    assert.equal(await bus.unsubscribe({ agentId: 's4', name: 'gone-4', topic: 'quotes' }), true);
    assert.equal(await groupsOf(topics()).then((g) => g.includes('sub:gone-4')), false);
    await bus.publish({ from: 'feed', topic: 'quotes', payload: 'after' });
    await sleep(200);
    assert.equal(other.messages.length, 300, 'its consumer was stopped');
    assert.equal(await bus.unsubscribe({ agentId: 's4', name: 'gone-4', topic: 'quotes' }), false);
    await assert.rejects(
      bus.unsubscribe({ agentId: 's4', topic: 'a', prefix: 'b' }),
      (e: unknown) => e instanceof ConfigError && /exactly one of topic \(exact\) or prefix/.test(e.message),
    );
  });

  test('unregister destroys the agent’s broadcast group; refused while this bus consumes for it', async () => {
    const bus = await env.bus();
    await bus.register('leaver');
    const broadcast = `${env.prefix}:broadcast`;
    assert.ok((await groupsOf(broadcast)).includes('agent:leaver'));
    const sub = await bus.consume('leaver', () => undefined);
    await assert.rejects(
      bus.unregister('leaver'),
      (e: unknown) =>
        e instanceof BusUsageError && /close that subscription before unregistering/.test(e.message),
    );
    await sub.close();
    await bus.unregister('leaver');
    assert.equal((await groupsOf(broadcast)).includes('agent:leaver'), false);
    const r = await bus.send({ from: 'x', to: 'leaver', payload: 'hello?' });
    assert.equal(r.status, 'dead_lettered');
  });

  test('a shared-stream group destroyed under a running consumer is created again from now, not from the start', async () => {
    const bus = await env.bus();
    const got = collector();
    await bus.subscribe({ agentId: 's5', name: 'reborn-5', topic: 'beats', handler: got.handler });
    for (const p of ['b1', 'b2', 'b3']) await bus.publish({ from: 'feed', topic: 'beats', payload: p });
    await got.waitFor(3);
    await env.redis.sendCommand(['XGROUP', 'DESTROY', topics(), 'sub:reborn-5']);
    const deadline = Date.now() + 5000;
    while (!(await groupsOf(topics())).includes('sub:reborn-5') && Date.now() < deadline) await sleep(20);
    await bus.publish({ from: 'feed', topic: 'beats', payload: 'b4' });
    await got.waitFor(4);
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['b1', 'b2', 'b3', 'b4'],
    );
  });
});
