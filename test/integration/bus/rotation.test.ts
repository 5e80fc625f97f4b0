/**
 * Key rotation through the bus (docs/bus.md, "Keys" and "Receive pipeline"): a frame carries the
 * sender's signing key id (`kid`) and the inbox's encryption key id (`ekid`), both `{kind}.{epoch}`.
 * A receiver accepts a key of epoch N until (N+1)·rotationIntervalMs + graceMs and dead-letters the
 * frame `unknown_key` from then on. Every bus and keystore here runs on an explicit clock; frames are
 * held in the inbox (the receiver does not consume yet) while the clocks are moved.
 */
import assert from 'node:assert/strict';
import { randomBytes, type KeyObject } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { createClient, RESP_TYPES } from 'redis';
import {
  BusUsageError,
  createBus,
  decodeFrameHeader,
  encodeEnvelopeHeader,
  encodeFrameHeader,
  frameSignedBytes,
  FRAME_ID_BYTES,
  type Bus,
  type BusMessage,
  type DeadLetter,
  type WireFrame,
} from '../../../src/bus/index.js';
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  createKeystore,
  createRedisKeystoreBackend,
  sealAead,
  signEd25519,
  type Keystore,
} from '../../../src/crypto/index.js';
import { randomId } from '../../../src/util/ids.js';
import { redisClientOptions } from '../../../src/util/redis-url.js';
import { deleteKeys, eventually } from '../../helpers/runtime.js';

const REDIS_URL = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A short rotation interval (the keystore's least is 1 s) and grace window. */
const INTERVAL_MS = 10_000;
const GRACE_MS = 3_000;
/** Epoch N of the tests, and the first millisecond of epochs N and N+1. */
const N = 1_000;
const START_N = N * INTERVAL_MS;
const START_N1 = (N + 1) * INTERVAL_MS;
/** The last millisecond at which keys of epoch N are accepted, and the first at which they are not. */
const LAST_IN_GRACE = START_N1 + GRACE_MS - 1;
const GRACE_OVER = START_N1 + GRACE_MS;
/** Bound on every wait for a delivery or a dead letter (real time). */
const WAIT_MS = 5_000;

interface Rig {
  readonly redis: ReturnType<typeof createClient>;
  /** A keystore over this test's key records (one backend, one master key) on its own clock. */
  keystore(now: () => number): Keystore;
  /** A bus on `now`, with a keystore of its own on the same clock. */
  bus(now: () => number): Promise<Bus>;
  /** The key ids in the header of an inbox entry still in the stream. */
  keyIds(agent: string, entryId: string): Promise<{ kid: string | null; ekid: string | null }>;
  /** XADDs a frame to an agent's inbox, as a sender with Redis access would. */
  inject(agent: string, frame: WireFrame): Promise<string>;
}

/** This test's Redis prefix, buses and connection, all closed and deleted when the test ends. */
async function rig(t: TestContext): Promise<Rig> {
  const prefix = `test:${randomId('rotation')}`;
  const masterKey = randomBytes(32);
  const redis = createClient(redisClientOptions(REDIS_URL));
  await redis.connect();
  const buses: Bus[] = [];
  t.after(async () => {
    for (const b of buses) await b.close();
    await redis.close();
    await deleteKeys(REDIS_URL, `${prefix}:*`);
  });
  const keystore = (now: () => number): Keystore =>
    createKeystore({
      masterKey,
      backend: createRedisKeystoreBackend(redis, prefix),
      options: { rotationIntervalMs: INTERVAL_MS, graceMs: GRACE_MS },
      now,
    });
  const inbox = (agent: string): string => `${prefix}:inbox:${agent}`;
  return {
    redis,
    keystore,
    async bus(now) {
      const b = await createBus({
        keystore: keystore(now),
        now,
        // a bus refuses a keystore whose grace is shorter than its longest ttl (bus.ts)
        options: { redisUrl: REDIS_URL, prefix, blockMs: 100, maxTtlMs: GRACE_MS, defaultTtlMs: GRACE_MS },
      });
      buses.push(b);
      return b;
    },
    async keyIds(agent, entryId) {
      const entries = await redis.sendCommand<[Buffer, Buffer[]][]>(
        ['XRANGE', inbox(agent), entryId, entryId],
        { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
      );
      const fields = entries[0]?.[1] ?? [];
      const at = fields.findIndex((f, i) => i % 2 === 0 && f.toString() === 'h');
      const h = fields[at + 1];
      assert.ok(at >= 0 && h, `inbox entry ${entryId} of ${agent} has a frame header`);
      const { kid, ekid } = decodeFrameHeader(h);
      return { kid, ekid };
    },
    inject(agent, { h, s, c, t: tag }) {
      return redis.sendCommand<string>(['XADD', inbox(agent), '*', 'h', h, 's', s, 'c', c, 't', tag]);
    },
  };
}

/**
 * A one-message frame sealed and signed with the given keys, as a sender would build it. The bus
 * itself always takes both keys from one epoch; this mixes them to reach each key check alone.
 */
function sealFrame(input: {
  from: string;
  to: string;
  payload: string;
  ts: number;
  sign: { kid: string; privateKey: KeyObject };
  enc: { kid: string; key: Buffer };
}): WireFrame & { id: string } {
  const id = randomId('m', 8);
  const payload = Buffer.from(input.payload);
  const nonce = randomBytes(AEAD_NONCE_BYTES);
  const h = encodeFrameHeader({
    fid: randomBytes(FRAME_ID_BYTES),
    from: input.from,
    kid: input.sign.kid,
    ekid: input.enc.kid,
    nonce,
    envs: [
      encodeEnvelopeHeader({
        id,
        kind: 'direct',
        to: input.to,
        ts: input.ts,
        ttl: 60_000,
        delivery: 'at-least-once',
        corr: null,
        len: payload.length,
      }),
    ],
  });
  const sealed = sealAead(input.enc.key, payload, h, nonce).ciphertext;
  const c = sealed.subarray(0, sealed.length - AEAD_TAG_BYTES);
  const t = sealed.subarray(sealed.length - AEAD_TAG_BYTES);
  return { h, c, t, s: signEd25519(input.sign.privateKey, frameSignedBytes(h, c, t)), id };
}

/** A handler that records what it is handed. */
function recorder(): { messages: BusMessage[]; handler: (m: BusMessage) => void } {
  const messages: BusMessage[] = [];
  return { messages, handler: (m) => void messages.push(m) };
}

type Outcome = { readonly delivered: BusMessage } | { readonly dead: DeadLetter };

/** Waits (bounded) until message `id` was handed to the handler or dead-lettered. */
function outcomeOf(bus: Bus, handled: readonly BusMessage[], id: string): Promise<Outcome> {
  return eventually<Outcome>(
    async () => {
      const delivered = handled.find((m) => m.id === id);
      if (delivered) return { delivered };
      const dead = (await bus.deadLetters.list({ count: 100 })).find((d) => d.messageId === id);
      return dead ? { dead } : undefined;
    },
    `message ${id} to be delivered or dead-lettered`,
    WAIT_MS,
  );
}

const show = (o: Outcome): string =>
  'dead' in o ? `dead-lettered ${o.dead.reason}: ${o.dead.detail}` : 'delivered';

async function expectDelivered(bus: Bus, handled: readonly BusMessage[], id: string, payload: string) {
  const o = await outcomeOf(bus, handled, id);
  assert.ok('delivered' in o, `message ${id} was ${show(o)}`);
  assert.equal(o.delivered.payload.toString(), payload);
}

async function expectDeadLettered(
  bus: Bus,
  handled: readonly BusMessage[],
  id: string,
  expected: Pick<DeadLetter, 'reason' | 'detail'> & { unverified: boolean },
) {
  const o = await outcomeOf(bus, handled, id);
  assert.ok('dead' in o, `message ${id} was ${show(o)}`);
  assert.deepEqual(
    { reason: o.dead.reason, detail: o.dead.detail, unverified: o.dead.unverified === true },
    expected,
  );
}

test('a frame sealed in epoch N is delivered in epoch N+1 within the grace window; the next frame carries new key ids', async (t) => {
  const env = await rig(t);
  // the last millisecond of epoch N: with a ttl of GRACE_MS the message is still alive at the end of
  // the grace window (a bus's maxTtlMs is at most its keystore's graceMs)
  let sendAt = START_N1 - 1;
  let receiveAt = START_N + 1_000;
  const sender = await env.bus(() => sendAt);
  const receiver = await env.bus(() => receiveAt);
  await receiver.register('bob');

  const old = await sender.send({ from: 'alice', to: 'bob', payload: 'sealed in epoch N' });
  assert.equal(old.status, 'queued');
  sendAt = START_N1;
  const fresh = await sender.send({ from: 'alice', to: 'bob', payload: 'sealed in epoch N+1' });
  assert.equal(fresh.status, 'queued');
  // both frames wait in the inbox: nobody consumes it yet
  assert.deepEqual(await env.keyIds('bob', old.entryId), { kid: `sign.${N}`, ekid: `enc.${N}` });
  assert.deepEqual(
    await env.keyIds('bob', fresh.entryId),
    { kid: `sign.${N + 1}`, ekid: `enc.${N + 1}` },
    'the sender rotated both keys with the epoch',
  );

  receiveAt = LAST_IN_GRACE;
  const got = recorder();
  await receiver.consume('bob', got.handler);
  await expectDelivered(receiver, got.messages, old.id, 'sealed in epoch N');
  await expectDelivered(receiver, got.messages, fresh.id, 'sealed in epoch N+1');
  assert.deepEqual(await receiver.deadLetters.list({ count: 100 }), []);
});

test('a frame sealed in epoch N and read once the grace window is over is dead-lettered unknown_key, never handled', async (t) => {
  const env = await rig(t);
  let sendAt = START_N + 1_000;
  let receiveAt = START_N + 1_000;
  const sender = await env.bus(() => sendAt);
  const receiver = await env.bus(() => receiveAt);
  await receiver.register('bob');

  const old = await sender.send({ from: 'alice', to: 'bob', payload: 'sealed in epoch N' });
  assert.equal(old.status, 'queued');
  assert.deepEqual(await env.keyIds('bob', old.entryId), { kid: `sign.${N}`, ekid: `enc.${N}` });

  receiveAt = GRACE_OVER;
  const got = recorder();
  await receiver.consume('bob', got.handler);
  // the signing key is looked up first (step 3), so it is the one reported
  await expectDeadLettered(receiver, got.messages, old.id, {
    reason: 'unknown_key',
    detail: `signing key 'sign.${N}' of 'alice' is unknown or retired`,
    unverified: true,
  });

  // a frame sealed now is handled: the consumer judged the old one first (stream order), and the
  // handler never saw it
  sendAt = GRACE_OVER;
  const fresh = await sender.send({ from: 'alice', to: 'bob', payload: 'sealed in epoch N+1' });
  assert.equal(fresh.status, 'queued');
  await expectDelivered(receiver, got.messages, fresh.id, 'sealed in epoch N+1');
  assert.deepEqual(
    got.messages.map((m) => m.payload.toString()),
    ['sealed in epoch N+1'],
  );
});

for (const retired of ['signing', 'encryption'] as const) {
  test(`only the ${retired} key is of epoch N: accepted within the grace window, dead-lettered unknown_key after it`, async (t) => {
    const env = await rig(t);
    let keysAt = START_N + 1_000;
    const keys = env.keystore(() => keysAt);
    const signN = await keys.currentSigningKey('agent:alice');
    const encN = await keys.currentEncryptionKey('agent:bob');
    keysAt = START_N1 + 1_000;
    const signN1 = await keys.currentSigningKey('agent:alice');
    const encN1 = await keys.currentEncryptionKey('agent:bob');
    assert.deepEqual(
      [signN.kid, encN.kid, signN1.kid, encN1.kid],
      [`sign.${N}`, `enc.${N}`, `sign.${N + 1}`, `enc.${N + 1}`],
    );
    const frameKeys = retired === 'signing' ? { sign: signN, enc: encN1 } : { sign: signN1, enc: encN };

    let receiveAt = LAST_IN_GRACE;
    const receiver = await env.bus(() => receiveAt);
    const got = recorder();
    await receiver.consume('bob', got.handler);
    const inGrace = sealFrame({ from: 'alice', to: 'bob', payload: 'in grace', ts: receiveAt, ...frameKeys });
    await env.inject('bob', inGrace);
    await expectDelivered(receiver, got.messages, inGrace.id, 'in grace');

    receiveAt = GRACE_OVER;
    const late = sealFrame({ from: 'alice', to: 'bob', payload: 'too late', ts: receiveAt, ...frameKeys });
    await env.inject('bob', late);
    await expectDeadLettered(
      receiver,
      got.messages,
      late.id,
      retired === 'signing'
        ? {
            reason: 'unknown_key',
            detail: `signing key 'sign.${N}' of 'alice' is unknown or retired`,
            unverified: true,
          }
        : {
            // the signature verified (epoch N+1 key); only the decryption key lookup refused
            reason: 'unknown_key',
            detail: `encryption key 'enc.${N}' of 'agent:bob' is unknown or retired`,
            unverified: false,
          },
    );

    // a frame under both current keys still goes through, and the late one never reached the handler
    const current = sealFrame({
      from: 'alice',
      to: 'bob',
      payload: 'current keys',
      ts: receiveAt,
      sign: signN1,
      enc: encN1,
    });
    await env.inject('bob', current);
    await expectDelivered(receiver, got.messages, current.id, 'current keys');
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['in grace', 'current keys'],
    );
  });
}

test('a bus refuses a keystore whose grace window is shorter than its longest ttl', async (t) => {
  const env = await rig(t);
  await assert.rejects(
    createBus({
      keystore: env.keystore(() => START_N),
      options: { redisUrl: REDIS_URL, prefix: `test:${randomId('rotation')}` },
    }),
    (e: unknown) =>
      e instanceof BusUsageError &&
      /graceMs \(3000\) is shorter than the bus's maxTtlMs \(300000\)/.test(e.message),
  );
});
