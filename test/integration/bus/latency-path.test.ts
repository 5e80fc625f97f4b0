import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeFrameHeader, type DeadLetterReason, type WireFrame } from '../../../src/bus/index.js';
import { runScript } from '../../../src/bus/scripts.js';
import { SEEN_PENDING_LUA } from '../../../src/bus/seen-pending.lua.js';
import { collector, craftFrame, sleep, testEnv, type Env } from './helpers.js';

/**
 * The request/response fast path (docs/bus.md, "Request/response latency"): the replay check
 * pipelined behind the blocking read, the next read waiting in Redis while a batch is handled, and
 * acks written as each frame is done.
 */
describe('bus latency path: the pipelined replay check, read-ahead and early acks keep every guarantee', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  const fidOf = (frame: WireFrame): string => decodeFrameHeader(frame.h).fid.toString('hex');

  async function expectDead(messageId: string, reason: DeadLetterReason): Promise<void> {
    const bus = env.buses[0];
    assert.ok(bus);
    const deadline = Date.now() + 5000;
    for (;;) {
      const all = await bus.deadLetters.list({ count: 500 });
      const dl = all.find((d) => d.messageId === messageId);
      if (dl) {
        assert.equal(dl.reason, reason, `message ${messageId}: ${dl.detail}`);
        return;
      }
      if (Date.now() > deadline)
        assert.fail(`message ${messageId} was not dead-lettered (expected ${reason})`);
      await sleep(50);
    }
  }

  test('the pipelined script: first sighting 0, same entry again 0, the frame in another entry 1; entries without a valid f are left out', async () => {
    const stream = `${env.prefix}:script:s`;
    const seenPrefix = `${env.prefix}:script:seen:`;
    await env.redis.sendCommand(['XGROUP', 'CREATE', stream, 'g', '0', 'MKSTREAM']);
    const fid = randomBytes(16).toString('hex');
    const e1 = await env.redis.sendCommand<string>(['XADD', stream, '*', 'f', fid, 'h', 'x']);
    await env.redis.sendCommand<string>(['XADD', stream, '*', 'h', 'no f']);
    const e3 = await env.redis.sendCommand<string>(['XADD', stream, '*', 'f', 'ZZ-not-hex', 'h', 'x']);
    await env.redis.sendCommand(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '10', 'STREAMS', stream, '>']);
    const run = (start: string, cap = 8): Promise<string[]> =>
      runScript<string[]>(
        env.redis,
        SEEN_PENDING_LUA,
        [stream],
        ['g', 'c', start, String(cap), seenPrefix, '60000'],
      );
    assert.deepEqual(await run('-'), [e1, 0]);
    assert.equal(await env.redis.get(`${seenPrefix}${fid}`), e1, 'the mark names the entry');
    assert.deepEqual(await run('-'), [e1, 0], 'a redelivery of the same entry is not a replay');
    const e4 = await env.redis.sendCommand<string>(['XADD', stream, '*', 'f', fid, 'h', 'copy']);
    const fresh = randomBytes(16).toString('hex');
    const e5 = await env.redis.sendCommand<string>(['XADD', stream, '*', 'f', fresh, 'h', 'y']);
    await env.redis.sendCommand(['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '10', 'STREAMS', stream, '>']);
    assert.deepEqual(
      await run(`(${e3}`),
      [e4, 1, e5, 0],
      'only entries above the start; the copy is a replay',
    );
    assert.deepEqual(await run(`(${e3}`, 1), [e4, 1], 'at most ARGV[4] entries');
  });

  test('replayed copies are rejected whatever their plain f says; a genuine frame with a wrong f is delivered once', async () => {
    const bus = await env.bus();
    const got = collector();
    await bus.register('alice');
    await bus.consume('bob', got.handler);
    const ks = env.keystore;
    const a = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.from('a') });
    const b = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.from('b') });
    const c = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.from('c') });
    const d = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.from('d') });
    for (const f of [a, b, c]) {
      await env.inject('bob', f, ['f', fidOf(f)]);
      await sleep(30); // one frame per read: light traffic, so the pipelined check is used
    }
    // a genuine frame whose plain f is not its signed frame id: checked by the regular script
    await env.inject('bob', d, ['f', randomBytes(16).toString('hex')]);
    await got.waitFor(4);
    await env.inject('bob', a, ['f', fidOf(a)]); // same f: caught by the pipelined check
    await sleep(30);
    await env.inject('bob', b, ['f', randomBytes(16).toString('hex')]); // forged f: caught by the regular check
    await sleep(30);
    await env.inject('bob', c); // no f (as a dead-letter replay writes it): regular check
    await env.inject('bob', d, ['f', fidOf(d)]); // d's first carrier had a wrong f, but its mark was set by the regular check
    await expectDead(a.id, 'replayed');
    await expectDead(b.id, 'replayed');
    await expectDead(c.id, 'replayed');
    await expectDead(d.id, 'replayed');
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['a', 'b', 'c', 'd'],
      'each genuine message delivered exactly once',
    );
  });

  test('acks: frames done before a slow handler are acked at once; close() flushes the rest', async () => {
    const bus = await env.bus({ options: { security: 'off' } });
    await bus.register('slow');
    const inbox = `${env.prefix}:inbox:slow`;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    // three entries waiting before the consumer starts: one read hands out all three
    for (const p of ['1', '2', '3']) await bus.send({ from: 'x', to: 'slow', payload: p });
    const sub = await bus.consume('slow', async (m) => {
      seen.push(m.payload.toString());
      if (m.payload.toString() === '3') await gate;
    });
    const deadline = Date.now() + 5000;
    while (seen.length < 3 && Date.now() < deadline) await sleep(10);
    let pending = 0;
    let len = 0;
    for (let i = 0; i < 100; i++) {
      pending = (await env.redis.sendCommand<[number]>(['XPENDING', inbox, 'inbox']))[0];
      len = await env.redis.sendCommand<number>(['XLEN', inbox]);
      if (pending === 1 && len === 1) break;
      await sleep(20);
    }
    assert.deepEqual(
      { pending, len },
      { pending: 1, len: 1 },
      'only the entry of the waiting handler is pending',
    );
    release();
    await sub.close();
    assert.deepEqual(await env.redis.sendCommand<[number]>(['XPENDING', inbox, 'inbox']), [
      0,
      null,
      null,
      null,
    ]);
    assert.equal(await env.redis.sendCommand<number>(['XLEN', inbox]), 0, 'acked entries are deleted');
    assert.deepEqual(seen, ['1', '2', '3']);
  });

  test('read-ahead: while a handler runs the next read already waits in Redis; what it takes is handled after, in order; a close meanwhile loses nothing', async () => {
    const options = { visibilityTimeoutMs: 300, claimIntervalMs: 100 };
    const bus = await env.bus({ options });
    await bus.register('ahead');
    const inbox = `${env.prefix}:inbox:ahead`;
    const gates = new Map<string, () => void>();
    const seen: string[] = [];
    const handler = async (m: { payload: Buffer }): Promise<void> => {
      const p = m.payload.toString();
      seen.push(p);
      if (p === '1' || p === '3') await new Promise<void>((r) => gates.set(p, r));
    };
    const pendingCount = async (): Promise<number> =>
      (await env.redis.sendCommand<[number]>(['XPENDING', inbox, 'inbox']))[0];
    const until = async (what: string, ok: () => Promise<boolean> | boolean): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!(await ok())) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await sleep(10);
      }
    };

    // a failed step must not leave a handler waiting forever (close() would wait for it)
    const releaseAll = (): void => {
      for (const g of gates.values()) g();
    };
    try {
      const sub = await bus.consume('ahead', handler);
      await bus.send({ from: 'x', to: 'ahead', payload: '1' });
      await until('handler 1 to start', () => gates.has('1'));
      await bus.send({ from: 'x', to: 'ahead', payload: '2' });
      // the waiting read takes message 2 at once: it is delivered (pending) while handler 1 still runs
      await until('message 2 to be taken by the waiting read', async () => (await pendingCount()) === 2);
      assert.deepEqual(seen, ['1'], 'message 2 is not handled before handler 1 ends');
      gates.get('1')?.();
      await until(
        'message 2 to be handled and both acked',
        async () => seen.length === 2 && (await pendingCount()) === 0,
      );
      assert.deepEqual(seen, ['1', '2']);
      assert.equal(await env.redis.sendCommand<number>(['XLEN', inbox]), 0, 'acked entries are deleted');

      // close while handler 3 runs and message 4 has been read ahead: 4 is not handled by this consumer,
      // stays pending, and the next consumer reclaims it after the visibility timeout
      await bus.send({ from: 'x', to: 'ahead', payload: '3' });
      await until('handler 3 to start', () => gates.has('3'));
      await bus.send({ from: 'x', to: 'ahead', payload: '4' });
      await until('message 4 to be read ahead', async () => (await pendingCount()) === 2);
      const closed = sub.close();
      gates.get('3')?.();
      await closed;
      assert.deepEqual(seen, ['1', '2', '3'], 'the closed consumer does not handle what it read ahead');
      assert.equal(await pendingCount(), 1, 'message 4 is still pending, not lost');
      const again: { payload: string; count: number }[] = [];
      const sub2 = await bus.consume('ahead', (m) => {
        again.push({ payload: m.payload.toString(), count: m.deliveryCount });
      });
      await until('message 4 to be redelivered', () => again.length === 1);
      await sub2.close();
      assert.deepEqual(again, [{ payload: '4', count: 2 }]);
      assert.equal(await pendingCount(), 0);
    } finally {
      releaseAll();
    }
  });

  test('no read-ahead after a read of many messages: what arrives meanwhile waits for the next read', async () => {
    const bus = await env.bus({ options: { security: 'off', maxBatch: 1 } });
    await bus.register('heavy');
    const inbox = `${env.prefix}:inbox:heavy`;
    // 12 frames of one message each, waiting before the consumer starts: its first read takes all 12
    for (let i = 0; i < 12; i++) await bus.send({ from: 'x', to: 'heavy', payload: `m${i}` });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const seen: string[] = [];
    const sub = await bus.consume('heavy', async (m) => {
      seen.push(m.payload.toString());
      if (seen.length === 1) await gate;
    });
    try {
      const deadline = Date.now() + 5000;
      while (seen.length === 0 && Date.now() < deadline) await sleep(10);
      await bus.send({ from: 'x', to: 'heavy', payload: 'late' });
      await sleep(300);
      const [pending] = await env.redis.sendCommand<[number]>(['XPENDING', inbox, 'inbox']);
      assert.equal(pending, 12, 'the late message is not taken while the 12 are handled');
    } finally {
      release();
    }
    const deadline = Date.now() + 5000;
    while (seen.length < 13 && Date.now() < deadline) await sleep(10);
    await sub.close();
    assert.deepEqual(seen, [...Array.from({ length: 12 }, (_, i) => `m${i}`), 'late']);
  });

  test('registry cache: refreshed ahead in the background, yet an answer is never older than registryCacheMs', async () => {
    const bus = await env.bus({ options: { security: 'off', registryCacheMs: 300 } });
    await bus.register('gone');
    const first = await bus.send({ from: 'x', to: 'gone', payload: '1' });
    assert.equal(first.status, 'queued');
    // unregistered behind the bus's back (another process): the local copy still says known
    await env.redis.sendCommand(['SREM', `${env.prefix}:agents`, 'gone']);
    const removedAt = Date.now();
    let dropped: number | undefined;
    while (Date.now() - removedAt < 2000) {
      const r = await bus.send({ from: 'x', to: 'gone', payload: 'n' });
      if (r.status === 'dead_lettered') {
        assert.equal(r.reason, 'unknown_recipient');
        dropped = Date.now() - removedAt;
        break;
      }
      await sleep(10);
    }
    assert.ok(dropped !== undefined, 'the removal was noticed');
    assert.ok(
      dropped <= 300 + 300,
      `noticed after ${dropped} ms; the cache may be at most 300 ms old (+ 300 ms slack for a loaded machine)`,
    );
  });
});
