import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
});
