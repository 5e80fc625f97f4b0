import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  compileBusOptions,
  DeadLetters,
  streamKeys,
  type BusMessage,
  type DeadLetter,
  type DeadLetterReason,
} from '../../../src/bus/index.js';
import { ConfigError } from '../../../src/config/errors.js';
import { collector, craftFrame, sleep, testEnv, type Env } from './helpers.js';

type Bus = Awaited<ReturnType<Env['bus']>>;

/**
 * Dead-letter replay, the replay window and the receive checks around them: a replay must never
 * deliver a message twice, reach another group, or reopen the replay window.
 */
describe('dead-letter replay and the replay window', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  /** A bus consuming `agent`'s inbox, and a genuine frame injected there and delivered once. */
  async function delivered(agent: string) {
    const bus = await env.bus();
    const got = collector();
    await bus.consume(agent, got.handler);
    const good = await craftFrame(env.keystore, {
      from: 'a',
      to: agent,
      payload: Buffer.from('transfer 100'),
    });
    await env.inject(agent, good);
    await got.waitFor(1);
    return { bus, got, good };
  }

  async function deadLetter(bus: Bus, messageId: string, reason: DeadLetterReason): Promise<DeadLetter> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const dl = (await bus.deadLetters.list({ count: 500 })).find(
        (d) => d.messageId === messageId && d.reason === reason,
      );
      if (dl) return dl;
      if (Date.now() > deadline) throw new Error(`no ${reason} dead letter for ${messageId}`);
      await sleep(25);
    }
  }

  test('a `replayed` dead letter is not replayed: the copy of a delivered frame is never delivered twice', async () => {
    const { bus, got, good } = await delivered('r1');
    await env.inject('r1', good); // an attacker's copy
    const dl = await deadLetter(bus, good.id, 'replayed');
    await assert.rejects(
      bus.deadLetters.replay(dl.entryId),
      /\(replayed\) is not replayed: .*deliver that message twice/,
    );
    await sleep(300);
    assert.equal(got.messages.length, 1);
    // nothing changed: the dead letter is still listed
    assert.ok((await bus.deadLetters.list({ count: 500 })).some((d) => d.entryId === dl.entryId));
  });

  test('a malformed copy under a genuine frame id cannot clear that frame from the replay window', async () => {
    const { bus, got, good } = await delivered('r2');
    // the genuine header (so the genuine frame id) over a body one byte short
    await env.inject('r2', { ...good, c: good.c.subarray(1) });
    const dl = await deadLetter(bus, good.id, 'bad_signature');
    await assert.rejects(bus.deadLetters.replay(dl.entryId), /\(bad_signature\) is not replayed/);
    await env.inject('r2', good); // an exact copy is still a replay
    await deadLetter(bus, good.id, 'replayed');
    await sleep(200);
    assert.equal(got.messages.length, 1);
  });

  test('a broadcast dead letter replays to its own group only: no second delivery, no late delivery, no false replay', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 2 } });
    const healthy = collector();
    let fixed = false;
    const failing: BusMessage[] = [];
    await bus.consume('b1', healthy.handler);
    await bus.consume('b2', (m) => {
      if (!fixed) throw new Error('handler bug');
      failing.push(m);
    });
    const sent = await bus.broadcast({ from: 'a', payload: 'hello all' });
    await healthy.waitFor(1);
    const dl = await deadLetter(bus, sent.id, 'too_many_attempts');
    assert.equal(dl.group, 'agent:b2');
    // an agent that registers after the broadcast must not receive it through the replay
    const late = collector();
    await bus.consume('b3', late.handler);
    fixed = true;
    await bus.deadLetters.replay(dl.entryId);
    const deadline = Date.now() + 5000;
    while (failing.length < 1 && Date.now() < deadline) await sleep(20);
    await sleep(300);
    assert.deepEqual(
      failing.map((m) => m.payload.toString()),
      ['hello all'],
    );
    assert.equal(healthy.messages.length, 1, 'b1 handled it once');
    assert.equal(late.messages.length, 0, 'b3 never got it');
    const letters = (await bus.deadLetters.list({ count: 500 })).filter((d) => d.messageId === sent.id);
    assert.deepEqual(letters, [], 'no other group dead-lettered the replay');
  });

  test('the replay points the frame mark at the new entry, so a copy of the frame is still a replay', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 2 } });
    let fixed = false;
    const got: BusMessage[] = [];
    const sub = await bus.consume('r4', (m) => {
      if (!fixed) throw new Error('handler bug');
      got.push(m);
    });
    const sent = await bus.send({ from: 'a', to: 'r4', payload: 'once' });
    const dl = await deadLetter(bus, sent.id, 'too_many_attempts');
    await sub.close();
    const [row] = await env.redis.sendCommand<[string, string[]][]>([
      'XRANGE',
      `${env.prefix}:dlq`,
      dl.entryId,
      dl.entryId,
    ]);
    const fields = row?.[1] ?? [];
    const frameKey = fields[fields.indexOf('frame') + 1] as string;
    const frame = await env.redis.sendCommand<Buffer[]>(['HMGET', frameKey, 'h', 's', 'c', 't'], {
      typeMapping: { 36: Buffer },
    });
    const newEntry = await bus.deadLetters.replay(dl.entryId);
    const seen = await env.redis.keys(`${env.prefix}:seen:${env.prefix}:inbox:r4:*`);
    assert.equal(seen.length, 1);
    assert.equal(await env.redis.get(seen[0] as string), newEntry, 'the mark names the replayed entry');
    // a copy of the frame added behind the replay (as an attacker could) is refused
    const [h, s, c, t] = frame as [Buffer, Buffer, Buffer, Buffer];
    await env.inject('r4', { h, s, c, t });
    fixed = true;
    await bus.consume('r4', (m) => {
      got.push(m);
    });
    await deadLetter(bus, sent.id, 'replayed');
    await sleep(200);
    assert.equal(got.length, 1, 'delivered once');
  });

  test('a replay the receiver would refuse again (expired message) is refused up front and changes nothing', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 2 } });
    await bus.consume('r5', () => {
      throw new Error('handler bug');
    });
    const sent = await bus.send({ from: 'a', to: 'r5', payload: 'short-lived', ttlMs: 400 });
    const dl = await deadLetter(bus, sent.id, 'too_many_attempts');
    await sleep(500);
    await assert.rejects(
      bus.deadLetters.replay(dl.entryId),
      /is not replayed: the message \(sent .*, ttl 400 ms\) has expired/,
    );
    assert.ok((await bus.deadLetters.list({ count: 500 })).some((d) => d.entryId === dl.entryId));
  });

  test('the replay window remembers a frame id longer than it accepts the frame (window + twice the clock skew)', async () => {
    const bus = await env.bus({
      options: { replayWindowMs: 60_000, maxTtlMs: 60_000, defaultTtlMs: 60_000, maxClockSkewMs: 5_000 },
    });
    const got = collector();
    await bus.consume('r6', got.handler);
    const good = await craftFrame(env.keystore, { from: 'a', to: 'r6' });
    await env.inject('r6', good);
    await got.waitFor(1);
    const keys = await env.redis.keys(`${env.prefix}:seen:${env.prefix}:inbox:r6:*`);
    assert.equal(keys.length, 1);
    const ttl = await env.redis.pTTL(keys[0] as string);
    assert.ok(ttl > 65_000 && ttl <= 70_000, `seen mark lives ${ttl} ms`);
  });

  test('maxTtlMs above replayWindowMs is refused: such a TTL could not be honoured', () => {
    assert.throws(
      () => compileBusOptions({ maxTtlMs: 600_000, replayWindowMs: 300_000 }),
      (e: unknown) => e instanceof ConfigError && /maxTtlMs must not exceed replayWindowMs/.test(e.message),
    );
    assert.doesNotThrow(() => compileBusOptions({ maxTtlMs: 600_000, replayWindowMs: 600_000 }));
  });

  test('an at-most-once inbox deletes what it handled', async () => {
    const bus = await env.bus();
    const got = collector();
    await bus.consume('r8', got.handler, { delivery: 'at-most-once' });
    for (let i = 0; i < 20; i++) await bus.send({ from: 'a', to: 'r8', payload: `m${i}` });
    await got.waitFor(20);
    const deadline = Date.now() + 3000;
    let len = -1;
    while (Date.now() < deadline) {
      len = await env.redis.xLen(`${env.prefix}:inbox:r8`);
      if (len === 0) break;
      await sleep(25);
    }
    assert.equal(len, 0);
  });

  test('an exactly-once message handled before a crash is not dead-lettered as expired when its frame comes back', async () => {
    const options = { visibilityTimeoutMs: 50, maxAttempts: 5 };
    const crashing = await env.bus({ options });
    const handled: string[] = [];
    await crashing.consume('r9', async (m) => {
      if (m.payload.toString() === 'second') await new Promise<void>(() => undefined); // dies here
      handled.push(m.payload.toString());
    });
    // one frame holding both (crafted, so they share it for sure), short TTLs
    const frame = await craftFrame(env.keystore, {
      from: 'a',
      to: 'r9',
      payload: Buffer.from('first'),
      header: { delivery: 'exactly-once', ttl: 600 },
      more: [{ payload: Buffer.from('second'), header: { delivery: 'exactly-once', ttl: 600 } }],
    });
    await env.inject('r9', frame);
    const deadline = Date.now() + 3000;
    while (!handled.includes('first') && Date.now() < deadline) await sleep(10);
    crashing.destroy();
    await sleep(700); // both are past their TTL now
    const bus = await env.bus({ options });
    await bus.consume('r9', (m) => void handled.push(m.payload.toString()));
    await deadLetter(bus, frame.ids[1] as string, 'expired');
    await sleep(200);
    const letters = (await bus.deadLetters.list({ count: 500 })).filter((d) => d.messageId === frame.id);
    assert.deepEqual(
      letters.map((d) => d.reason),
      [],
      'the handled one has no dead letter',
    );
    assert.deepEqual(handled, ['first']);
  });

  test('a frame larger than the sender limits allow is dead-lettered too_large before it is parsed', async () => {
    const bus = await env.bus({ options: { maxFrameBytes: 1024, maxMessageBytes: 1024 } });
    const got = collector();
    await bus.consume('r10', got.handler);
    const big = await craftFrame(env.keystore, { from: 'a', to: 'r10', payload: Buffer.alloc(3000, 7) });
    await env.inject('r10', big);
    const deadline = Date.now() + 5000;
    let dl: DeadLetter | undefined;
    while (!dl && Date.now() < deadline) {
      dl = (await bus.deadLetters.list({ count: 500 })).find(
        (d) => d.stream === `${env.prefix}:inbox:r10` && d.reason === 'too_large',
      );
      await sleep(25);
    }
    assert.ok(dl, 'dead-lettered');
    assert.match(dl.detail, /frame body is 3000 bytes; the limit is 2048/);
    assert.equal(got.messages.length, 0);
  });

  test('a keystore that fails holds its frame (not delivered, not acked) without holding the others back, then dead-letters it', async () => {
    const failing = new Set(['x']);
    const keystore = {
      ...env.keystore,
      verificationKey: async (owner: string, kid: string) => {
        if (failing.has(owner.replace(/^agent:/, ''))) throw new Error('record does not unseal');
        return env.keystore.verificationKey(owner, kid);
      },
    };
    const bus = await env.bus({ keystore, options: { visibilityTimeoutMs: 50, maxAttempts: 3 } });
    const got = collector();
    await bus.consume('r11', got.handler);
    const fromX = await craftFrame(env.keystore, { from: 'x', to: 'r11', payload: Buffer.from('from x') });
    const fromY = await craftFrame(env.keystore, { from: 'y', to: 'r11', payload: Buffer.from('from y') });
    await env.inject('r11', fromX);
    await env.inject('r11', fromY);
    await got.waitFor(1);
    assert.equal(got.messages[0]?.payload.toString(), 'from y');
    const dl = await deadLetter(bus, fromX.id, 'unknown_key');
    assert.match(dl.detail, /keystore failed on delivery 3: record does not unseal/);
    assert.equal(got.messages.length, 1);
    // exactly one dead letter for it, not one per attempt
    const letters = (await bus.deadLetters.list({ count: 500 })).filter((d) => d.messageId === fromX.id);
    assert.equal(letters.length, 1);
  });

  test('DeadLetters from the CLI refuses what the receiver would refuse, with the same replay window', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 1 } });
    await bus.consume('r12', () => {
      throw new Error('handler bug');
    });
    const sent = await bus.send({ from: 'a', to: 'r12', payload: 'old' });
    const dl = await deadLetter(bus, sent.id, 'too_many_attempts');
    // a clock 10 minutes ahead: the message is older than the default 5-minute window
    const later = new DeadLetters(env.redis, streamKeys(env.prefix), undefined, () => Date.now() + 600_000);
    await assert.rejects(later.replay(dl.entryId), /has expired|before the replay window/);
    assert.ok((await bus.deadLetters.list({ count: 500 })).some((d) => d.entryId === dl.entryId));
  });
});
