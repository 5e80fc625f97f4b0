import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BusUsageError } from '../../../src/bus/index.js';
import { FORGET_CONSUMER_LUA } from '../../../src/bus/forget-consumer.lua.js';
import { runScript } from '../../../src/bus/scripts.js';
import { TRIM_SHARED_LUA } from '../../../src/bus/trim-shared.lua.js';
import { ConfigError } from '../../../src/config/errors.js';
import { collector, craftFrame, sleep, testEnv, type Env } from './helpers.js';

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

  test('a group nobody reads gets one `trimmed` letter for its first cut, then one per trimmedReportMs naming all it lost', async () => {
    let skew = 0;
    const bus = await env.bus({
      now: () => Date.now() + skew,
      options: { sharedStreamTrimMs: 50, sharedStreamMaxLen: 100, trimmedReportMs: 60_000 },
    });
    const sub = await bus.subscribe({
      agentId: 's7',
      name: 'stale-7',
      topic: 'ticks7',
      handler: () => undefined,
    });
    await sub.close();
    const published: string[] = [];
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 100; i++) {
        const r = await bus.publish({ from: 'feed', topic: 'ticks7', payload: `t${batch}.${i}` });
        assert.equal(r.status, 'queued');
        if (r.status === 'queued') published.push(r.entryId);
      }
      await sleep(150); // a trim run or more: the stream is cut back to 100 entries
    }
    const letters = async (): Promise<{ from: string; below: string }[]> =>
      (await bus.deadLetters.list({ count: 1000 }))
        .filter((d) => d.group === 'sub:stale-7')
        .map((d) => {
          const m = /the entries below (\S+) that group .* \(it was at (\S+)\) were cut$/.exec(d.detail);
          assert.ok(m, d.detail);
          return { below: m[1] as string, from: m[2] as string };
        })
        .reverse(); // oldest first
    assert.equal((await letters()).length, 1, 'the first cut is reported at once; the later ones wait');
    skew += 61_000; // the interval has passed: the next trim run reports what was cut since
    await sleep(300);
    const all = await letters();
    assert.equal(all.length, 2);
    // every published entry that is gone is named by exactly one letter; none still held is
    const key = (id: string): [number, number] => id.split('-').map(Number) as [number, number];
    const lt = (a: string, b: string): boolean => {
      const [am, as] = key(a);
      const [bm, bs] = key(b);
      return am < bm || (am === bm && as < bs);
    };
    const held = new Set(
      (await env.redis.xRange(topics(), '-', '+')).map((e) => e.id).filter((id) => published.includes(id)),
    );
    assert.equal(held.size, 100);
    for (const id of published) {
      const naming = all.filter((l) => lt(l.from, id) && lt(id, l.below)).length;
      assert.equal(naming, held.has(id) ? 0 : 1, `entry ${id} is named by ${naming} letters`);
    }
  });

  test('the trim script: a group that moved on gets its recorded range at once, a destroyed one its last range; ids exact at any size', async () => {
    const stream = `${env.prefix}:trimscript`;
    const cuts = `${stream}:cuts`;
    const r = env.redis;
    const add = async (ids: string[]): Promise<void> => {
      for (const id of ids) await r.sendCommand(['XADD', stream, id, 'k', 'v']);
    };
    const seq = (from: number, n: number, ms = '1'): string[] =>
      Array.from({ length: n }, (_, i) => `${ms}-${from + i}`);
    const trim = async (now: number): Promise<string[][]> => {
      const out = await runScript<(number | string)[]>(
        r,
        TRIM_SHARED_LUA,
        [stream, cuts],
        ['100', String(now), '60000'],
      );
      const reports: string[][] = [];
      for (let i = 2; i + 2 < out.length; i += 3)
        reports.push([String(out[i]), String(out[i + 1]), String(out[i + 2])]);
      return reports;
    };
    const read = async (group: string, n: number): Promise<void> => {
      const got = await r.sendCommand<[string, [string, string[]][]][]>([
        'XREADGROUP',
        'GROUP',
        group,
        'c',
        'COUNT',
        String(n),
        'STREAMS',
        stream,
        '>',
      ]);
      const ids = (got[0]?.[1] ?? []).map((e) => e[0]);
      await r.sendCommand(['XACK', stream, group, ...ids]);
    };
    await r.sendCommand(['XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM']);
    await add(seq(1, 150));
    assert.deepEqual(await trim(1000), [['g', '0-0', '1-51']], 'the first cut: at once');
    await read('g', 10); // handles 1-51..1-60
    await add(seq(151, 50));
    assert.deepEqual(await trim(2000), [], 'a later cut within the interval waits');
    await read('g', 5); // handles 1-101..1-105: the group moved on
    await add(seq(201, 50));
    assert.deepEqual(
      await trim(3000),
      [['g', '1-60', '1-101']],
      'the recorded range is reported at once, without the entries the group handled since',
    );
    await r.sendCommand(['XGROUP', 'DESTROY', stream, 'g']);
    await r.sendCommand(['XGROUP', 'CREATE', stream, 'h', '$']);
    assert.deepEqual(await trim(4000), [['g', '1-105', '1-151']], 'a destroyed group: its last range');
    assert.equal(await r.hGet(cuts, 'g'), null);

    // a group whose consumer died holding entries beyond the cut: its floor is then the first entry
    // the cut kept (pending), which still joins up with the recorded range
    await r.del([stream, cuts]);
    await r.sendCommand(['XGROUP', 'CREATE', stream, 'p', '0', 'MKSTREAM']);
    await add(seq(1, 150));
    await r.sendCommand(['XREADGROUP', 'GROUP', 'p', 'dead', 'COUNT', '130', 'STREAMS', stream, '>']);
    assert.deepEqual(await trim(1000), [['p', '1-1', '1-51']]);
    await add(seq(151, 50));
    assert.deepEqual(await trim(2000), []);
    await add(seq(201, 50));
    assert.deepEqual(await trim(3000), [], 'nothing read since: the ranges join up, no letter yet');
    assert.deepEqual(await trim(62_000), [['p', '1-51', '1-151']], 'one letter for both cuts, once due');

    // a group that read (and acked) exactly the first entry the last cut kept has moved on too
    await r.del([stream, cuts]);
    await r.sendCommand(['XGROUP', 'CREATE', stream, 'q', '0', 'MKSTREAM']);
    await add(seq(1, 150));
    assert.deepEqual(await trim(1000), [['q', '0-0', '1-51']]);
    await add(seq(151, 50));
    assert.deepEqual(await trim(2000), []);
    await read('q', 1); // handles 1-101
    await add(seq(201, 50));
    assert.deepEqual(await trim(3000), [['q', '1-50', '1-101']], 'not joined with what it handled');

    // sequence numbers beyond 2^53: the group is set exactly below the first entry kept
    await r.del([stream, cuts]);
    await r.sendCommand(['XGROUP', 'CREATE', stream, 'big', '0', 'MKSTREAM']);
    const big = Array.from({ length: 150 }, (_, i) => `5-${(10n ** 17n + BigInt(i)).toString()}`);
    await add(big);
    assert.deepEqual(await trim(5000), [['big', '0-0', big[50]]]);
    const info = await r.sendCommand<unknown[][]>(['XINFO', 'GROUPS', stream]);
    const g = info[0] ?? [];
    assert.equal(g[g.indexOf('last-delivered-id') + 1], big[49]);
  });

  const groupsOf = async (stream: string): Promise<string[]> =>
    (await env.redis.sendCommand<unknown[][]>(['XINFO', 'GROUPS', stream])).map((g) => String(g[1]));

  test('a subscription leaves no replay mark and no dead letter for topics it does not match', async () => {
    const bus = await env.bus();
    const news = collector();
    const sports = collector();
    await bus.subscribe({ agentId: 'n1', topic: 'news.a', handler: news.handler });
    await bus.subscribe({ agentId: 's1', prefix: 'sports.', handler: sports.handler });
    // a forged topic frame for sports: only the sports subscription judges (and dead-letters) it
    const forged = await craftFrame(env.keystore, {
      from: 'feed',
      to: 'sports.y',
      header: { kind: 'topic' },
      forgeSignature: true,
    });
    await bus.publish({ from: 'feed', topic: 'news.a', payload: 'n1' });
    await env.redis.sendCommand([
      'XADD',
      topics(),
      '*',
      'h',
      forged.h,
      's',
      forged.s,
      'c',
      forged.c,
      't',
      forged.t,
    ]);
    await bus.publish({ from: 'feed', topic: 'sports.x', payload: 's1' });
    await bus.publish({ from: 'feed', topic: 'news.a', payload: 'n2' });
    // each group reads in order: once these arrive, each has handled all four entries
    await news.waitFor(2);
    await sports.waitFor(1);
    const marks = async (group: string): Promise<number> =>
      (await env.redis.keys(`${env.prefix}:seen:${topics()}:${group}:*`)).length;
    assert.equal(await marks('sub:n1:news.a'), 2, 'the news group marked its two frames only');
    assert.equal(
      await marks('sub:s1:sports.*'),
      2,
      'the sports group marked its own frame and the forged one',
    );
    const letters = (await bus.deadLetters.list({ count: 500 })).filter((d) => d.messageId === forged.id);
    assert.deepEqual(
      letters.map((d) => [d.reason, d.group]),
      [['bad_signature', 'sub:s1:sports.*']],
    );
  });

  test('a closed consumer leaves no consumer behind in its groups; one that holds entries stays', async () => {
    const bus = await env.bus();
    const got = collector();
    const news = collector();
    for (let i = 0; i < 3; i++) {
      const inbox = await bus.consume('c9', got.handler);
      const sub = await bus.subscribe({ agentId: 'c9', topic: 'c9.news', handler: news.handler });
      await bus.send({ from: 'a', to: 'c9', payload: `m${i}` });
      await bus.broadcast({ from: 'a', payload: `b${i}` });
      await bus.publish({ from: 'a', topic: 'c9.news', payload: `n${i}` });
      await got.waitFor(2 * (i + 1));
      await news.waitFor(i + 1);
      await inbox.close();
      await sub.close();
    }
    const consumers = async (stream: string, group: string): Promise<unknown[]> =>
      env.redis.sendCommand<unknown[]>(['XINFO', 'CONSUMERS', stream, group]);
    assert.deepEqual(await consumers(`${env.prefix}:inbox:c9`, 'inbox'), []);
    assert.deepEqual(await consumers(`${env.prefix}:broadcast`, 'agent:c9'), []);
    assert.deepEqual(await consumers(topics(), 'sub:c9:c9.news'), []);

    // the script itself: a consumer holding an unacked entry is kept (its entry must be reclaimable)
    const stream = `${env.prefix}:forget`;
    await env.redis.sendCommand(['XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM']);
    const id = await env.redis.sendCommand<string>(['XADD', stream, '*', 'k', 'v']);
    await env.redis.sendCommand(['XREADGROUP', 'GROUP', 'g', 'holder', 'COUNT', '1', 'STREAMS', stream, '>']);
    const forget = (): Promise<number> =>
      runScript<number>(env.redis, FORGET_CONSUMER_LUA, [stream], ['g', 'holder']);
    assert.equal(await forget(), 0);
    assert.equal((await consumers(stream, 'g')).length, 1);
    await env.redis.sendCommand(['XACK', stream, 'g', id]);
    assert.equal(await forget(), 1);
    assert.deepEqual(await consumers(stream, 'g'), []);
    assert.equal(
      await runScript<number>(env.redis, FORGET_CONSUMER_LUA, [stream], ['no-such-group', 'x']),
      0,
    );
  });

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
