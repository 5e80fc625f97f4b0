import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import {
  BusTimeoutError,
  BusUsageError,
  type BusAuditEvent,
  type BusMessage,
  type PreSendPolicy,
  type SendResult,
} from '../../../src/bus/index.js';
import { ConfigError } from '../../../src/config/errors.js';
import { collector, sleep, testEnv, type Env } from './helpers.js';

/** A policy that allows everything after `ms` (a slow send phase). */
const slowPolicy = (ms: number): PreSendPolicy => ({
  checkSend: async () => {
    await sleep(ms);
    return { allowed: true, reasons: [] };
  },
});

/** 'pending' if `p` has not settled within `ms`, else its value or its rejection reason. */
async function within(p: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([p.catch((error: unknown) => error), sleep(ms).then(() => 'pending')]);
}

/** Waits until `list` holds `n` messages; returns the `n`th. */
async function nth(list: BusMessage[], n: number, ms = 5000): Promise<BusMessage> {
  const deadline = Date.now() + ms;
  while (list[n - 1] === undefined) {
    if (Date.now() > deadline) throw new Error(`${list.length} of ${n} messages within ${ms} ms`);
    await sleep(10);
  }
  return list[n - 1] as BusMessage;
}

/** Waits until `list` holds a message. */
const first = (list: BusMessage[], ms = 5000): Promise<BusMessage> => nth(list, 1, ms);

describe('bus request lifecycle: timeouts, close, subscriptions, reply binding and input', () => {
  let env: Env;
  beforeEach(async () => {
    env = await testEnv();
  });
  afterEach(async () => env.cleanup());

  test('the timeout bounds the whole request, a send slower than timeoutMs included', async () => {
    const bus = await env.bus({ policy: slowPolicy(1500) });
    await bus.register('srv');
    await bus.consume('cli', () => undefined);
    const t0 = Date.now();
    await assert.rejects(
      bus.request({ from: 'cli', to: 'srv', payload: 'ping', timeoutMs: 200 }),
      (e: unknown) => e instanceof BusTimeoutError && /got no reply within 200 ms/.test(e.message),
    );
    const took = Date.now() - t0;
    assert.ok(took < 1200, `request() settled after ${took} ms, not within about 200 ms`);
  });

  test('a request that times out during its send leaves no unhandled rejection and no waiter', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const client = await env.bus({ policy: slowPolicy(500) });
      const server = await env.bus();
      await server.consume('srv', async (m) => {
        if (m.kind === 'request') await server.reply(m, { from: 'srv', payload: 'late' });
      });
      const stray = collector();
      await client.consume('cli', stray.handler);
      // a TTL well beyond the timeout: on a slow machine the request must not expire before it is read
      await assert.rejects(
        client.request({ from: 'cli', to: 'srv', payload: 'ping', timeoutMs: 100, ttlMs: 60_000 }),
        BusTimeoutError,
      );
      // the send completes later and the server answers; with no waiter left the reply is handed on
      const [late] = await stray.waitFor(1);
      assert.equal(late?.kind, 'reply');
      assert.equal(late?.payload.toString(), 'late');
      await sleep(50);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('close() and destroy() reject a waiting request with BusUsageError', async () => {
    for (const end of ['close', 'destroy'] as const) {
      const bus = await env.bus();
      await bus.register('slow'); // registered, never answers
      await bus.consume('cli', () => undefined);
      const req = bus.request({ from: 'cli', to: 'slow', payload: '?', timeoutMs: 30_000 });
      await sleep(100);
      if (end === 'close') await bus.close();
      else bus.destroy();
      const outcome = await within(req, 2000);
      assert.ok(outcome instanceof BusUsageError, `after ${end}() the request is ${String(outcome)}`);
      assert.match(outcome.message, /the bus was closed while request .* to 'slow' waited for its reply/);
    }
  });

  test('close() lets a handler still running send its reply, and then refuses new sends', async () => {
    const server = await env.bus();
    const client = await env.bus();
    const started: BusMessage[] = [];
    let replyError: unknown;
    await server.consume('srv', async (m) => {
      started.push(m);
      await sleep(200);
      try {
        await server.reply(m, { from: 'srv', payload: 'pong' });
      } catch (error) {
        replyError = error;
        throw error;
      }
    });
    await client.consume('cli', () => undefined);
    const req = client.request({ from: 'cli', to: 'srv', payload: 'ping', timeoutMs: 5000 });
    await first(started);
    await server.close();
    assert.equal(replyError, undefined);
    assert.equal((await req).payload.toString(), 'pong');
    // the request was handled, acked and deleted before the connection closed
    const pending = await env.redis.sendCommand<unknown[]>(['XPENDING', `${env.prefix}:inbox:srv`, 'inbox']);
    assert.equal(pending[0], 0);
    await assert.rejects(
      server.send({ from: 'srv', to: 'cli', payload: 'after close' }),
      (e: unknown) => e instanceof BusUsageError && /the bus is closed/.test(e.message),
    );
  });

  test('close() lets a handler still running answer a request waiting on the same bus', async () => {
    const bus = await env.bus();
    const started: BusMessage[] = [];
    await bus.consume('srv', async (m) => {
      started.push(m);
      await sleep(200);
      await bus.reply(m, { from: 'srv', payload: 'pong' });
    });
    await bus.consume('cli', () => undefined);
    const req = bus.request({ from: 'cli', to: 'srv', payload: 'ping', timeoutMs: 5000 });
    const answered = req.then((m) => [m.payload.toString(), m.entryId]);
    await first(started);
    await bus.close();
    // handed over before the bus refused sends and rejected the requests still waiting
    assert.deepEqual(await answered, ['pong', '']);
  });

  test('Subscription.close() is idempotent and counts each consumer once', async () => {
    const bus = await env.bus();
    const srv = await bus.consume('srv', async (m) => {
      if (m.kind === 'request') await bus.reply(m, { from: 'srv', payload: 'ok' });
    });
    const one = await bus.consume('cli', () => undefined);
    const two = await bus.consume('cli', () => undefined);
    const ask = (): Promise<BusMessage> =>
      bus.request({ from: 'cli', to: 'srv', payload: '?', timeoutMs: 5000 });
    const notConsuming = (e: unknown): boolean =>
      e instanceof BusUsageError && /'cli' must consume its inbox/.test(e.message);

    await one.close();
    await one.close();
    // 'cli' still consumes through `two`
    assert.equal((await ask()).payload.toString(), 'ok');
    await two.close();
    await assert.rejects(ask(), notConsuming);
    await two.close();
    await assert.rejects(ask(), notConsuming);

    const topic = await bus.subscribe({ agentId: 'cli', topic: 't', handler: () => undefined });
    await topic.close();
    await topic.close();
    // closing again after the bus closed resolves too
    await bus.close();
    await srv.close();
  });

  test('a reply resolves a request only when it comes from the agent asked and goes to the requester', async () => {
    const bus = await env.bus();
    const requests: BusMessage[] = [];
    await bus.consume('slow', (m) => {
      if (m.kind === 'request') requests.push(m); // answered by hand below
    });
    const toA = collector();
    const toD = collector();
    await bus.consume('a', toA.handler);
    await bus.consume('d', toD.handler);
    const req = bus.request({ from: 'a', to: 'slow', payload: 'quote?', timeoutMs: 10_000 });
    const asked = await first(requests);

    // another agent answers with the right correlation id
    await bus.reply(asked, { from: 'c', payload: 'from c' });
    // the agent asked answers, but to another agent: 'd' asked nothing on this bus, so it has no
    // stream for replies from it, and the reply is dead-lettered
    const toD1 = await bus.reply({ ...asked, from: 'd' }, { from: 'slow', payload: 'to d' });
    assert.equal(toD1.status === 'dead_lettered' && toD1.reason, 'unknown_recipient');
    // neither is taken by the request; the one that reached 'a' is handed to its handler
    const [fromC] = await toA.waitFor(1);
    assert.deepEqual([fromC?.kind, fromC?.from, fromC?.to], ['reply', 'c', 'a']);
    assert.equal(await within(req, 100), 'pending');
    // once 'd' has asked something on this bus, a stray reply to it reaches its handler
    const dAsks = bus.request({ from: 'd', to: 'slow', payload: 'x', timeoutMs: 10_000 });
    const dAsked = await nth(requests, 2); // sent once its reply stream had started
    await bus.reply({ ...asked, from: 'd' }, { from: 'slow', payload: 'to d' });
    const [toDMsg] = await toD.waitFor(1);
    assert.deepEqual([toDMsg?.kind, toDMsg?.from, toDMsg?.to], ['reply', 'slow', 'd']);
    await bus.reply(dAsked, { from: 'slow', payload: 'for d' });
    assert.equal((await dAsks).payload.toString(), 'for d');

    await bus.reply(asked, { from: 'slow', payload: 'price is 42' });
    const answer = await req;
    assert.deepEqual([answer.from, answer.to, answer.payload.toString()], ['slow', 'a', 'price is 42']);
  });

  test('reply() refuses a bad ttlMs or payload with a ConfigError before it takes a rate token', async () => {
    // one token for 'srv' and practically no refill: a bad reply that took it would starve the good one
    const bus = await env.bus({ options: { ratePerSecond: 0.001, rateBurst: 1 } });
    const requests: BusMessage[] = [];
    await bus.consume('srv', (m) => {
      if (m.kind === 'request') requests.push(m);
    });
    await bus.consume('cli', () => undefined);
    const req = bus.request({ from: 'cli', to: 'srv', payload: '?', timeoutMs: 10_000 });
    const asked = await first(requests);

    const bad: [input: { from: string; payload: string; ttlMs?: number }, field: RegExp][] = [
      [{ from: 'srv', payload: 'x', ttlMs: -1 }, /- ttlMs: /],
      [{ from: 'srv', payload: 'x', ttlMs: 1.5 }, /- ttlMs: /],
      [{ from: 'srv', payload: 'x', ttlMs: 'soon' as unknown as number }, /- ttlMs: /],
      [{ from: 'srv', payload: 42 as unknown as string }, /- payload: payload must be a string, Buffer/],
    ];
    for (const [input, field] of bad) {
      let sent: Promise<SendResult> | undefined;
      assert.doesNotThrow(() => {
        sent = bus.reply(asked, input);
      });
      await assert.rejects(
        sent as Promise<SendResult>,
        (e: unknown) =>
          e instanceof ConfigError && /^bus\.reply input is invalid/.test(e.message) && field.test(e.message),
      );
    }
    const sent = await bus.reply(asked, { from: 'srv', payload: 'ok' });
    assert.equal(sent.status, 'delivered'); // its request waits on this bus: handed over in-process
    assert.equal((await req).payload.toString(), 'ok');
  });

  test('a reply taken by a waiting request is audited as delivered (read from Redis by the requester’s bus)', async () => {
    const events: BusAuditEvent[] = [];
    const audit = {
      record: (e: BusAuditEvent) => {
        events.push(e);
      },
    };
    const server = await env.bus({ audit });
    const bus = await env.bus({ audit });
    await server.consume('srv', async (m) => {
      if (m.kind === 'request') await server.reply(m, { from: 'srv', payload: 'pong' });
    });
    await bus.consume('cli', () => undefined);
    const answer = await bus.request({ from: 'cli', to: 'srv', payload: 'ping', timeoutMs: 5000 });
    assert.notEqual(answer.entryId, ''); // it came through the requester's reply stream
    const delivered = events.filter((e) => e.kind === 'message.delivered' && e.messageId === answer.id);
    assert.deepEqual(
      delivered.map((e) => (e.kind === 'message.delivered' ? [e.messageKind, e.from, e.to] : [])),
      [['reply', 'srv', 'cli']],
    );
  });

  test('a reply to a request waiting on the same bus is handed over in-process: checked, audited, not written to Redis', async () => {
    const events: BusAuditEvent[] = [];
    const bus = await env.bus({
      audit: {
        record: (e) => {
          events.push(e);
        },
      },
      policy: {
        checkSend: (m) =>
          m.kind === 'reply' && m.size > 100
            ? { allowed: false, reasons: ['replies are at most 100 bytes'] }
            : { allowed: true, reasons: [] },
      },
    });
    const requests: BusMessage[] = [];
    await bus.consume('srv', (m) => {
      if (m.kind === 'request') requests.push(m);
    });
    await bus.consume('cli', () => undefined);
    const req = bus.request({ from: 'cli', to: 'srv', payload: '?', timeoutMs: 10_000 });
    const asked = await first(requests);

    // the pre-send policy still judges it: denied, it is dead-lettered and the request keeps waiting
    const denied = await bus.reply(asked, { from: 'srv', payload: 'x'.repeat(101) });
    assert.deepEqual(denied.status === 'dead_lettered' && [denied.reason, denied.detail], [
      'policy_denied',
      'replies are at most 100 bytes',
    ]);
    assert.equal(await within(req, 50), 'pending');

    const body = Buffer.from('price is 42');
    const sent = await bus.reply(asked, { from: 'srv', payload: body });
    assert.equal(sent.status, 'delivered');
    body.fill(0); // the replier's buffer stays its own: the requester got a copy
    const answer = await req;
    assert.deepEqual(
      [answer.id, answer.kind, answer.from, answer.to, answer.correlationId, answer.payload.toString()],
      [sent.id, 'reply', 'srv', 'cli', asked.correlationId, 'price is 42'],
    );
    assert.deepEqual([answer.deliveryCount, answer.entryId, answer.delivery], [1, '', asked.delivery]);
    // memory of its own, as a delivered payload has: not a slice of Node's shared buffer pool
    assert.equal(answer.payload.buffer.byteLength, answer.payload.length);

    // nothing was added to the requester's reply stream, and no dead letter was made for it
    const replyStreams: string[] = [];
    for await (const key of env.redis.scanIterator({ MATCH: `${env.prefix}:inbox:cli:r:*` }))
      replyStreams.push(...(Array.isArray(key) ? key : [key]));
    assert.equal(replyStreams.length, 1);
    const info = await env.redis.sendCommand<unknown[]>(['XINFO', 'STREAM', replyStreams[0] as string]);
    assert.equal(info[info.indexOf('entries-added') + 1], 0);
    assert.deepEqual(
      (await bus.deadLetters.list()).map((d) => d.reason),
      ['policy_denied'],
    );
    const about = events
      .filter((e) => e.messageId === sent.id)
      .map((e) => (e.kind === 'message.dropped' ? [e.kind] : [e.kind, e.messageKind, e.from, e.to]));
    assert.deepEqual(about, [
      ['message.sent', 'reply', 'srv', 'cli'],
      ['message.delivered', 'reply', 'srv', 'cli'],
    ]);
  });

  test('a handed-over reply that waited for an async policy or a rate token still settles its request; a late one goes through Redis to the handler', async () => {
    // the policy answers replies asynchronously, after 30 ms; and 'srv' has no rate token at hand on
    // a fresh bus: its first reply waits for the shared bucket's answer (afterToken) first
    const bus = await env.bus({
      policy: {
        checkSend: (m) =>
          m.kind === 'reply'
            ? sleep(30).then(() => ({ allowed: true, reasons: [] }))
            : { allowed: true, reasons: [] },
      },
    });
    const requests: BusMessage[] = [];
    await bus.consume('srv', (m) => {
      if (m.kind === 'request') requests.push(m);
    });
    const late = collector();
    await bus.consume('cli', late.handler);
    const req1 = bus.request({ from: 'cli', to: 'srv', payload: 'one', timeoutMs: 10_000 });
    const req2 = bus.request({ from: 'cli', to: 'srv', payload: 'two', timeoutMs: 10_000 });
    const asked1 = await nth(requests, 1);
    const asked2 = await nth(requests, 2);
    // the first waits for a rate token (one take serves both) and the policy, the second behind it
    const [r1, r2] = await Promise.all([
      bus.reply(asked1, { from: 'srv', payload: 're:one' }),
      bus.reply(asked2, { from: 'srv', payload: 're:two' }),
    ]);
    assert.deepEqual([r1.status, r2.status], ['delivered', 'delivered']);
    assert.deepEqual(
      [(await req1).payload.toString(), (await req2).payload.toString()],
      ['re:one', 're:two'],
    );

    // a request that timed out: its reply is written to the reply stream and reaches the handler
    // its TTL outlives the timeout, so the reply is late whether or not the request was read in time
    const req3 = bus.request({ from: 'cli', to: 'srv', payload: 'three', timeoutMs: 300, ttlMs: 60_000 });
    const timedOut = assert.rejects(req3, BusTimeoutError);
    const asked3 = await nth(requests, 3);
    await timedOut;
    const r3 = await bus.reply(asked3, { from: 'srv', payload: 're:three' });
    assert.equal(r3.status, 'queued');
    const [lateReply] = await late.waitFor(1);
    assert.deepEqual(
      [lateReply?.kind, lateReply?.from, lateReply?.payload.toString(), lateReply?.entryId !== ''],
      ['reply', 'srv', 're:three', true],
    );
  });

  test('replies come back to the process that asked when two processes consume the requester’s inbox', async () => {
    const server = await env.bus();
    await server.consume('srv', async (m) => {
      if (m.kind === 'request') await server.reply(m, { from: 'srv', payload: `re:${m.payload.toString()}` });
    });
    // two processes (two buses, two connections) both consume the inbox of 'cli' and both ask
    const [p1, p2] = [await env.bus(), await env.bus()];
    const strays = collector();
    await p1.consume('cli', strays.handler);
    await p2.consume('cli', strays.handler);
    const asks: Promise<[string, string]>[] = [];
    for (let i = 0; i < 20; i++)
      for (const [n, p] of [
        ['p1', p1],
        ['p2', p2],
      ] as const) {
        const q = `${n}.${i}`;
        asks.push(
          p
            .request({ from: 'cli', to: 'srv', payload: q, timeoutMs: 3000 })
            .then((r) => [q, r.payload.toString()]),
        );
      }
    const answers = await Promise.allSettled(asks);
    const failed = answers.filter((a) => a.status === 'rejected');
    assert.equal(failed.length, 0, `every request got its reply (${String(failed[0]?.reason)})`);
    for (const a of answers) if (a.status === 'fulfilled') assert.equal(a.value[1], `re:${a.value[0]}`);
    assert.equal(strays.messages.length, 0, 'no reply was handed to a handler instead');
  });

  test('a reply to a process that has closed is dead-lettered, and the reply stream is gone with it', async () => {
    const server = await env.bus();
    const asked: BusMessage[] = [];
    await server.consume('srv', (m) => {
      if (m.kind === 'request') asked.push(m);
    });
    const client = await env.bus();
    await client.consume('cli', () => undefined);
    const req = client.request({ from: 'cli', to: 'srv', payload: '?', timeoutMs: 10_000 });
    const m = await first(asked);
    const streams = await env.redis.keys(`${env.prefix}:inbox:cli:r:*`);
    assert.equal(streams.length, 1, 'one reply stream: this bus’s, for cli');
    const ttl = await env.redis.pTTL(streams[0] as string);
    assert.ok(ttl > 0 && ttl <= 3_600_000, `it expires unless renewed (${ttl} ms)`);
    await client.close();
    await assert.rejects(req, BusUsageError);
    assert.deepEqual(await env.redis.keys(`${env.prefix}:inbox:cli:r:*`), [], 'close() deleted it');
    const sent = await server.reply(m, { from: 'srv', payload: 'too late' });
    assert.equal(sent.status, 'dead_lettered');
    assert.equal(sent.status === 'dead_lettered' && sent.reason, 'unknown_recipient');
    const [dl] = (await server.deadLetters.list({ count: 10 })).filter((d) => d.messageId === sent.id);
    assert.match(dl?.detail ?? '', /no process waits for replies/);
    assert.deepEqual(
      await env.redis.keys(`${env.prefix}:inbox:cli:r:*`),
      [],
      'the reply did not create it again',
    );
  });

  test('a send waiting for its agent’s first rate token is written by close() and waited for by flush()', async () => {
    const other = await env.bus();
    await other.register('rcpt'); // registered elsewhere: this bus's first send also asks the registry
    for (const end of ['flush', 'close'] as const) {
      const bus = await env.bus();
      const sent = bus.send({ from: `fresh-${end}`, to: 'rcpt', payload: end });
      if (end === 'flush') await bus.flush();
      else await bus.close();
      assert.equal((await sent).status, 'queued', `${end}: the send was written, not refused`);
      if (end === 'flush') await bus.close();
    }
    assert.equal(await env.redis.xLen(`${env.prefix}:inbox:rcpt`), 2);
  });

  test('an agent that stops consuming and starts again keeps a working reply stream', async () => {
    const server = await env.bus();
    let slowFirst = true;
    await server.consume('srv', async (m) => {
      if (m.kind !== 'request') return;
      if (slowFirst) {
        slowFirst = false;
        await sleep(400); // answered after the request timed out: a late reply
      }
      await server.reply(m, { from: 'srv', payload: `re:${m.payload.toString()}` });
    });
    const client = await env.bus();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const sub = await client.consume('a', async (m) => {
      if (m.kind === 'reply') await gate; // the late reply holds the old consumer's stop
    });
    await assert.rejects(
      client.request({ from: 'a', to: 'srv', payload: '1', timeoutMs: 200 }),
      BusTimeoutError,
    );
    await sleep(400); // the late reply is being handled
    const closing = sub.close();
    await client.consume('a', () => undefined);
    const second = client.request({ from: 'a', to: 'srv', payload: '2', timeoutMs: 5000 });
    setTimeout(open, 200);
    assert.equal((await second).payload.toString(), 're:2');
    await closing;
    const third = await client.request({ from: 'a', to: 'srv', payload: '3', timeoutMs: 3000 });
    assert.equal(third.payload.toString(), 're:3', 'the old stop did not delete the new stream');
    const [stream] = await env.redis.keys(`${env.prefix}:inbox:a:r:*`);
    assert.ok((await env.redis.pTTL(stream as string)) > 0, 'and it still expires');
  });

  test('a waiting request is rejected at once when its agent stops consuming', async () => {
    const bus = await env.bus();
    await bus.consume('srv', () => undefined); // never answers
    const sub = await bus.consume('a', () => undefined);
    const req = bus
      .request({ from: 'a', to: 'srv', payload: '?', timeoutMs: 10_000 })
      .catch((error: unknown) => error);
    await sleep(100);
    await sub.close();
    assert.match(String(await within(req, 500)), /'a' stopped consuming its inbox on this bus/);
  });

  test('a reply’s dead letter is not replayed to a bus that has closed, and its stream is not made again', async () => {
    const server = await env.bus();
    await server.consume('srv', async (m) => {
      if (m.kind !== 'request') return;
      await sleep(300);
      await server.reply(m, { from: 'srv', payload: 'late' });
    });
    const client = await env.bus({ options: { maxAttempts: 1 } });
    await client.consume('a', (m) => {
      if (m.kind === 'reply') throw new Error('late replies are not wanted');
    });
    await assert.rejects(
      client.request({ from: 'a', to: 'srv', payload: '?', timeoutMs: 100 }),
      BusTimeoutError,
    );
    let letter: { entryId: string } | undefined;
    for (let i = 0; i < 100 && !letter; i++) {
      letter = (await client.deadLetters.list({ count: 10 })).find((d) => d.reason === 'too_many_attempts');
      if (!letter) await sleep(50);
    }
    assert.ok(letter, 'the late reply was dead-lettered by the failing handler');
    await client.close();
    await assert.rejects(server.deadLetters.replay(letter.entryId), /a reply to a bus that has closed/);
    assert.deepEqual(await env.redis.keys(`${env.prefix}:inbox:a:r:*`), []);
  });

  test('close() and flush() finish while sends keep arriving through a slow policy', async () => {
    const bus = await env.bus({ policy: slowPolicy(20) });
    await bus.register('busy');
    const results: Promise<unknown>[] = [];
    const timer = setInterval(() => {
      results.push(bus.send({ from: 'ticker', to: 'busy', payload: 't' }).catch((e: unknown) => e));
    }, 5);
    try {
      await sleep(50);
      assert.equal(await within(bus.flush(), 1000), undefined, 'flush() finished');
      assert.equal(await within(bus.close(), 1000), undefined, 'close() finished');
    } finally {
      clearInterval(timer);
    }
    await Promise.all(results);
  });
});
