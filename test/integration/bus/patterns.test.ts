import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BusTimeoutError, BusRateLimitError, type BusMessage } from '../../../src/bus/index.js';
import { collector, sleep, testEnv, type Env } from './helpers.js';

for (const security of ['signed-encrypted', 'off'] as const) {
  describe(`bus patterns (security ${security})`, () => {
    let env: Env;
    before(async () => {
      env = await testEnv();
    });
    after(async () => env.cleanup());

    test('direct at-least-once keeps per-sender order', async () => {
      const bus = await env.bus({ options: { security } });
      const got = collector();
      await bus.register('b1');
      const sends = [];
      for (let i = 0; i < 600; i++) sends.push(bus.send({ from: 'a1', to: 'b1', payload: `m${i}` }));
      const results = await Promise.all(sends);
      assert.ok(results.every((r) => r.status === 'queued'));
      await bus.consume('b1', got.handler);
      const msgs = await got.waitFor(600);
      assert.deepEqual(
        msgs.map((m) => m.payload.toString()),
        Array.from({ length: 600 }, (_, i) => `m${i}`),
      );
      assert.equal(msgs[0]?.from, 'a1');
      assert.equal(msgs[0]?.kind, 'direct');
      // acked and deleted: nothing pending
      const pending = await env.redis.sendCommand<unknown[]>(['XPENDING', `${env.prefix}:inbox:b1`, 'inbox']);
      assert.equal(pending[0], 0);
    });

    test('an asynchronous policy and a cold registry cache keep per-sender order', async () => {
      let asked = 0;
      const bus = await env.bus({
        options: { security, registryCacheMs: 0 },
        policy: {
          checkSend: async () => {
            asked++;
            await sleep(asked % 3); // answers arrive at uneven times
            return { allowed: true, reasons: [] };
          },
        },
      });
      const got = collector();
      await bus.consume('o1', got.handler);
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => bus.send({ from: 'a2', to: 'o1', payload: `n${i}` })),
      );
      assert.ok(results.every((r) => r.status === 'queued'));
      const msgs = await got.waitFor(60);
      assert.equal(asked, 60);
      assert.deepEqual(
        msgs.map((m) => m.payload.toString()),
        Array.from({ length: 60 }, (_, i) => `n${i}`),
      );
    });

    test('at-most-once and exactly-once direct messages are delivered once', async () => {
      const bus = await env.bus({ options: { security } });
      const got = collector();
      await bus.consume('b2', got.handler);
      await bus.send({ from: 'a1', to: 'b2', payload: 'amo', delivery: 'at-most-once' });
      await bus.send({ from: 'a1', to: 'b2', payload: 'eo', delivery: 'exactly-once' });
      const msgs = await got.waitFor(2);
      assert.deepEqual(
        msgs.map((m) => [m.payload.toString(), m.delivery]),
        [
          ['amo', 'at-most-once'],
          ['eo', 'exactly-once'],
        ],
      );
    });

    test('publish/subscribe: exact and prefix subscriptions', async () => {
      const bus = await env.bus({ options: { security } });
      const exact = collector();
      const prefix = collector();
      const s1 = await bus.subscribe({ agentId: 'x1', topic: 'orders.created', handler: exact.handler });
      const s2 = await bus.subscribe({
        agentId: 'x2',
        prefix: 'orders.',
        handler: prefix.handler,
        delivery: 'exactly-once',
      });
      await bus.publish({ from: 'p', topic: 'orders.created', payload: '1' });
      await bus.publish({ from: 'p', topic: 'orders.shipped', payload: '2' });
      await bus.publish({ from: 'p', topic: 'billing.created', payload: '3' });
      await prefix.waitFor(2);
      await exact.waitFor(1);
      await sleep(200);
      assert.deepEqual(
        exact.messages.map((m) => [m.to, m.payload.toString()]),
        [['orders.created', '1']],
      );
      assert.deepEqual(
        prefix.messages.map((m) => [m.to, m.payload.toString()]),
        [
          ['orders.created', '1'],
          ['orders.shipped', '2'],
        ],
      );
      await s1.close();
      await s2.close();
    });

    test('request/response, and a timeout ends in BusTimeoutError', async () => {
      // the server on its own bus (another process, as it were): the reply crosses Redis
      const srvBus = await env.bus({ options: { security } });
      const bus = await env.bus({ options: { security } });
      const server = await srvBus.consume('srv', async (m: BusMessage) => {
        if (m.kind === 'request')
          await srvBus.reply(m, { from: 'srv', payload: `echo:${m.payload.toString()}` });
      });
      await bus.consume('cli', () => undefined);
      const reply = await bus.request({ from: 'cli', to: 'srv', payload: 'hi', timeoutMs: 3000 });
      assert.equal(reply.payload.toString(), 'echo:hi');
      assert.equal(reply.kind, 'reply');
      assert.notEqual(reply.entryId, '');
      await bus.register('mute');
      const started = Date.now();
      await assert.rejects(
        bus.request({ from: 'cli', to: 'mute', payload: 'x', timeoutMs: 150 }),
        (e: unknown) => {
          assert.ok(e instanceof BusTimeoutError);
          assert.equal(e.code, 'ARS_BUS_TIMEOUT');
          assert.match(e.message, /got no reply within 150 ms/);
          return true;
        },
      );
      // bounded, not hung (generous: the machine is shared and noisy)
      assert.ok(Date.now() - started < 3000);
      await server.close();
    });

    test('broadcast reaches every registered agent', async () => {
      const bus = await env.bus({ options: { security } });
      const cs = [collector(), collector(), collector()];
      for (let i = 0; i < cs.length; i++)
        await bus.consume(`r${i}`, (cs[i] as ReturnType<typeof collector>).handler);
      await bus.broadcast({ from: 'boss', payload: 'all hands' });
      for (const c of cs) {
        const [m] = await c.waitFor(1);
        assert.equal(m?.kind, 'broadcast');
        assert.equal(m?.payload.toString(), 'all hands');
      }
    });

    test('per-agent rate limit throws BusRateLimitError and sends nothing', async () => {
      // a refill far slower than the test, so a slow machine cannot earn the third token
      const bus = await env.bus({ options: { security, ratePerSecond: 0.01, rateBurst: 2 } });
      await bus.register('rl');
      await bus.send({ from: 'spam', to: 'rl', payload: '1' });
      await bus.send({ from: 'spam', to: 'rl', payload: '2' });
      await assert.rejects(bus.send({ from: 'spam', to: 'rl', payload: '3' }), (e: unknown) => {
        assert.ok(e instanceof BusRateLimitError);
        assert.equal(e.code, 'ARS_BUS_RATE_LIMITED');
        assert.match(e.message, /agent 'spam' exceeded its message rate limit/);
        return true;
      });
      const len = await env.redis.xLen(`${env.prefix}:inbox:rl`);
      assert.equal(len, 2);
    });

    test('the rate limit holds across processes: two buses share one bucket per agent', async () => {
      const options = { security, ratePerSecond: 0.01, rateBurst: 3 };
      const [a, b] = [await env.bus({ options }), await env.bus({ options })];
      await a.register('rl2');
      const results = await Promise.allSettled(
        [a, b, a, b, a, b].map((bus, i) => bus.send({ from: 'spam2', to: 'rl2', payload: `${i}` })),
      );
      const sent = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(sent, 3, 'the burst of 3 once, across both buses (each would allow 3 on its own)');
      for (const r of results)
        if (r.status === 'rejected') assert.ok(r.reason instanceof BusRateLimitError, String(r.reason));
      const got = collector();
      await a.consume('rl2', got.handler);
      assert.equal((await got.waitFor(3)).length, 3);
      await sleep(200);
      assert.equal(got.messages.length, 3, 'nothing else arrives');
      assert.ok((await env.redis.pTTL(`${env.prefix}:rate:spam2`)) > 0, 'the shared bucket expires');
    });
  });
}
