import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BusMessage, DeliveryLevel } from '../../../src/bus/index.js';
import { eventually } from '../../helpers/runtime.js';
import { sleep, testEnv, type Env } from './helpers.js';

const never = new Promise<void>(() => undefined);

/** Waits (polling) until `ok`; fails naming `what` after `ms`. */
const until = (what: string, ok: () => boolean, ms = 5000): Promise<unknown> =>
  eventually(() => ok() || undefined, what, ms);

async function pendingCount(env: Env, agent: string): Promise<number> {
  const summary = await env.redis.sendCommand<[number, ...unknown[]]>([
    'XPENDING',
    `${env.prefix}:inbox:${agent}`,
    'inbox',
  ]);
  return Number(summary[0]);
}

/** Direct messages from one sender to one recipient keep their order: through failures and crashes. */
describe('per-sender order', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  for (const delivery of ['at-least-once', 'exactly-once'] as DeliveryLevel[]) {
    test(`${delivery}: a handler that fails once is run again before the messages behind it`, async () => {
      // the visibility timeout is long: only an in-place retry can bring m1 back within the test
      const bus = await env.bus({ options: { visibilityTimeoutMs: 20_000, handlerRetryMs: 20 } });
      const agent = `fail-once-${delivery}`;
      const handled: [string, number][] = [];
      let failed = false;
      await bus.consume(agent, (m) => {
        if (m.payload.toString() === 'm1' && !failed) {
          failed = true;
          throw new Error('transient');
        }
        handled.push([m.payload.toString(), m.deliveryCount]);
      });
      // each in its own frame (awaited one by one), and three more sent in one tick (one frame)
      for (const p of ['m1', 'm2']) await bus.send({ from: 'alice', to: agent, payload: p, delivery });
      await Promise.all(
        ['m3', 'm4', 'm5'].map((p) => bus.send({ from: 'alice', to: agent, payload: p, delivery })),
      );
      await until('five messages', () => handled.length === 5);
      assert.deepEqual(handled, [
        ['m1', 2],
        ['m2', 1],
        ['m3', 1],
        ['m4', 1],
        ['m5', 1],
      ]);
      await bus.flush();
      await sleep(100);
      assert.equal(await pendingCount(env, agent), 0);
    });
  }

  test('a message failing inside a frame holds the rest of the frame until it is handled', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 20_000, handlerRetryMs: 10 } });
    const handled: string[] = [];
    let failures = 0;
    await bus.consume('frame-fail', (m) => {
      if (m.payload.toString() === 'b' && failures < 2) {
        failures++;
        throw new Error('transient');
      }
      handled.push(`${m.payload.toString()}@${m.deliveryCount}`);
    });
    // 'x' goes out alone (idle lane); a, b, c share the next frame
    await Promise.all(
      ['x', 'a', 'b', 'c'].map((p) => bus.send({ from: 'alice', to: 'frame-fail', payload: p })),
    );
    await until('four messages', () => handled.length === 4);
    assert.deepEqual(handled, ['x@1', 'a@1', 'b@3', 'c@1']);
  });

  test('the attempts made in place are recorded: a crash during them does not restart the count', async () => {
    const sender = await env.bus();
    await sender.register('counted');
    const options = { visibilityTimeoutMs: 200, handlerRetryMs: 10, maxAttempts: 4 };
    const crashing = await env.bus({ options });
    const attempts: number[] = [];
    await crashing.consume('counted', async (m) => {
      attempts.push(m.deliveryCount);
      if (m.deliveryCount < 3) throw new Error('still broken');
      await never; // the third attempt hangs: the process dies there
    });
    await sender.send({ from: 'alice', to: 'counted', payload: 'job' });
    await until('the third attempt', () => attempts.length === 3);
    crashing.destroy();
    assert.deepEqual(attempts, [1, 2, 3]);
    const survivor = await env.bus({ options });
    const got: BusMessage[] = [];
    await survivor.consume('counted', (m) => void got.push(m));
    await until('the redelivery', () => got.length === 1);
    assert.equal(got[0]?.deliveryCount, 4, 'the fourth delivery, not the second');
  });

  test('a bus closing while a handler waits to be retried stops at once; the entry stays for the next consumer, and the frame’s dead letters are written once', async () => {
    const sender = await env.bus();
    await sender.register('closing');
    const options = { visibilityTimeoutMs: 200, handlerRetryMs: 60_000, handlerRetryMaxMs: 60_000 };
    // 'warm' goes out alone (idle lane); 'stale' (1 ms to live) and 'job' share the next frame, read
    // only once 'stale' has expired
    await Promise.all([
      sender.send({ from: 'alice', to: 'closing', payload: 'warm' }),
      sender.send({ from: 'alice', to: 'closing', payload: 'stale', ttlMs: 1 }),
      sender.send({ from: 'alice', to: 'closing', payload: 'job' }),
    ]);
    await sleep(20);
    const first = await env.bus({ options });
    let failed = 0;
    await first.consume('closing', (m) => {
      if (m.payload.toString() === 'job') {
        failed++;
        throw new Error('broken');
      }
    });
    await until('the failure', () => failed === 1);
    const started = Date.now();
    await first.close();
    assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
    assert.equal(await pendingCount(env, 'closing'), 1, 'the frame is still pending');
    const next = await env.bus({ options });
    const got: BusMessage[] = [];
    await next.consume('closing', (m) => void got.push(m));
    await until('the redelivery', () => got.length === 1);
    assert.equal(got[0]?.payload.toString(), 'job');
    await sleep(100);
    const letters = (await next.deadLetters.list()).filter((d) => d.to === 'closing');
    assert.deepEqual(
      letters.map((d) => d.reason),
      ['expired'],
      'the expired message of the frame is dead-lettered once, though the frame was judged twice',
    );
  });

  test('a consumer started after a crash finishes the crashed consumer’s entries before new ones', async () => {
    const sender = await env.bus();
    await sender.register('restart');
    const options = { visibilityTimeoutMs: 300 };
    const crashing = await env.bus({ options });
    let hung = false;
    await crashing.consume('restart', async () => {
      hung = true;
      await never;
    });
    await sender.send({ from: 'alice', to: 'restart', payload: 'm1' });
    await until('m1 taken', () => hung);
    crashing.destroy();
    await sender.send({ from: 'alice', to: 'restart', payload: 'm2' });
    const survivor = await env.bus({ options });
    const got: string[] = [];
    await survivor.consume('restart', (m) => void got.push(m.payload.toString()));
    await until('both', () => got.length === 2);
    assert.deepEqual(got, ['m1', 'm2']);
  });

  test('a restart under the same consumerName takes its own pending entries at once, first', async () => {
    const sender = await env.bus();
    await sender.register('same-name');
    // a visibility timeout far longer than the test: the entry can only come back as the consumer's own
    const options = { visibilityTimeoutMs: 60_000 };
    const crashing = await env.bus({ options });
    let hung = false;
    await crashing.consume(
      'same-name',
      async () => {
        hung = true;
        await never;
      },
      { consumerName: 'worker-1' },
    );
    await sender.send({ from: 'alice', to: 'same-name', payload: 'm1' });
    await until('m1 taken', () => hung);
    crashing.destroy();
    await sender.send({ from: 'alice', to: 'same-name', payload: 'm2' });
    const restarted = await env.bus({ options });
    const got: BusMessage[] = [];
    await restarted.consume('same-name', (m) => void got.push(m), { consumerName: 'worker-1' });
    await until('both', () => got.length === 2, 3000);
    assert.deepEqual(
      got.map((m) => [m.payload.toString(), m.deliveryCount]),
      [
        ['m1', 2],
        ['m2', 1],
      ],
    );
  });
});
