import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BusTimeoutError, type DeadLetterReason } from '../../../src/bus/index.js';
import { collector, craftFrame, sleep, testEnv, type Env } from './helpers.js';

describe('envelope security: every bad message is rejected, dead-lettered with its reason, never delivered', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  async function expectDead(
    messageId: string,
    reason: DeadLetterReason,
    bus: Awaited<ReturnType<Env['bus']>>,
    unverified?: boolean,
  ): Promise<void> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const dl = (await bus.deadLetters.list({ count: 500 })).find((d) => d.messageId === messageId);
      if (dl) {
        assert.equal(dl.reason, reason, `message ${messageId}: ${dl.detail}`);
        if (unverified !== undefined)
          assert.equal(
            dl.unverified === true,
            unverified,
            `${reason}: the sender is ${unverified ? 'only claimed' : 'verified'}`,
          );
        return;
      }
      if (Date.now() > deadline)
        assert.fail(`message ${messageId} was not dead-lettered (expected ${reason})`);
      await sleep(50);
    }
  }

  test('forged, tampered, misaddressed, replayed, expired, oversized and unknown-key messages', async () => {
    const bus = await env.bus({ options: { maxMessageBytes: 4096 } });
    const got = collector();
    await bus.register('alice');
    await bus.consume('bob', got.handler);
    const ks = env.keystore;

    const good = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.from('good') });
    const forged = await craftFrame(ks, { from: 'alice', to: 'bob', forgeSignature: true });
    const cipher = await craftFrame(ks, { from: 'alice', to: 'bob', corruptCiphertext: true });
    const header = await craftFrame(ks, { from: 'alice', to: 'bob', tamperHeaderAfterSigning: true });
    const wrong = await craftFrame(ks, { from: 'alice', to: 'carol' });
    const expired = await craftFrame(ks, {
      from: 'alice',
      to: 'bob',
      header: { ts: Date.now() - 10_000, ttl: 1_000 },
    });
    const oldTs = await craftFrame(ks, {
      from: 'alice',
      to: 'bob',
      header: { ts: Date.now() - 10 * 60_000, ttl: 3_600_000 },
    });
    const big = await craftFrame(ks, { from: 'alice', to: 'bob', payload: Buffer.alloc(8192, 1) });
    const unknownKid = await craftFrame(ks, { from: 'alice', to: 'bob', kid: 'sign.1' });
    const unknownEkid = await craftFrame(ks, { from: 'alice', to: 'bob', ekid: 'enc.1' });

    await env.inject('bob', good);
    await got.waitFor(1);
    await env.inject('bob', good); // replay of an accepted frame
    for (const f of [forged, cipher, header, wrong, expired, oldTs, big, unknownKid, unknownEkid])
      await env.inject('bob', f);

    // `unverified`: dropped before (or because) the signature did not verify — the sender is a claim
    await expectDead(forged.id, 'bad_signature', bus, true);
    await expectDead(cipher.id, 'decryption_failed', bus, false);
    await expectDead(header.id, 'bad_signature', bus, true);
    await expectDead(wrong.id, 'wrong_recipient', bus, false);
    await expectDead(expired.id, 'expired', bus, false);
    await expectDead(oldTs.id, 'replayed', bus, false);
    await expectDead(big.id, 'too_large', bus, true);
    await expectDead(unknownKid.id, 'unknown_key', bus, true);
    await expectDead(unknownEkid.id, 'unknown_key', bus, false);
    await expectDead(good.id, 'replayed', bus, false);
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['good'],
      'only the genuine message was delivered, once',
    );
  });

  test('a reply that belongs on a bus’s reply stream is refused in the inbox, and on any other bus’s stream', async () => {
    const bus = await env.bus();
    const got = collector();
    await bus.register('srv2');
    await bus.consume('cli2', got.handler);
    const ks = env.keystore;
    const corr = (tag: string): string => `${randomUUID()}~${tag}`;
    // genuine replies, signed by their sender, copied where they do not belong: an inbox (a reply
    // whose request named a bus) and this bus's reply stream (a reply naming another bus)
    const tagged = await craftFrame(ks, {
      from: 'srv2',
      to: 'cli2',
      header: { kind: 'reply', corr: corr('0123456789abcdef') },
    });
    const untagged = await craftFrame(ks, {
      from: 'srv2',
      to: 'cli2',
      payload: Buffer.from('plain reply'),
      header: { kind: 'reply', corr: randomUUID() },
    });
    await env.inject('cli2', tagged);
    await env.inject('cli2', untagged);
    await expectDead(tagged.id, 'wrong_recipient', bus, false);
    const [plain] = await got.waitFor(1);
    assert.equal(
      plain?.payload.toString(),
      'plain reply',
      'a reply naming no bus is still taken from the inbox',
    );

    const asking = bus.request({ from: 'cli2', to: 'srv2', payload: '?', timeoutMs: 1_500 });
    let stream: string | undefined;
    const deadline = Date.now() + 10_000;
    while (stream === undefined) {
      [stream] = await env.redis.keys(`${env.prefix}:inbox:cli2:r:*`);
      if (Date.now() > deadline) assert.fail('the reply stream of cli2 was not made');
      await sleep(10);
    }
    const other = await craftFrame(ks, {
      from: 'srv2',
      to: 'cli2',
      header: { kind: 'reply', corr: corr('fedcba9876543210') },
    });
    const { h, s: sig, c, t } = other;
    await env.redis.sendCommand(['XADD', stream, '*', 'h', h, 's', sig, 'c', c, 't', t]);
    await expectDead(other.id, 'wrong_recipient', bus, false);
    await assert.rejects(asking, BusTimeoutError);
    assert.equal(got.messages.length, 1, 'neither copy was delivered');
  });

  test('a frame this bus signed itself and that was altered in Redis is still rejected (the signature memo)', async () => {
    const bus = await env.bus();
    await bus.register('bob3');
    const sent = await bus.send({ from: 'alice3', to: 'bob3', payload: 'original' });
    const inbox = `${env.prefix}:inbox:bob3`;
    const entries = await env.redis.sendCommand<[string, Buffer[]][]>(['XRANGE', inbox, '-', '+'], {
      typeMapping: { 36: Buffer },
    });
    const [entryId, fields] = entries[0] as [Buffer | string, Buffer[]];
    await env.redis.sendCommand(['XDEL', inbox, entryId.toString()]);
    const copy: (string | Buffer)[] = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = (fields[i] as Buffer).toString();
      const value = Buffer.from(fields[i + 1] as Buffer);
      if (name === 'c') value[0] = (value[0] as number) ^ 1; // one ciphertext bit
      copy.push(name, value);
    }
    await env.redis.sendCommand(['XADD', inbox, '*', ...copy]);
    const got = collector();
    await bus.consume('bob3', got.handler);
    await expectDead(sent.id, 'bad_signature', bus, true);
    assert.equal(got.messages.length, 0);
  });

  test('one frame of several messages: per-message checks reject only their message; a tampered byte rejects the frame', async () => {
    const bus = await env.bus();
    const got = collector();
    await bus.register('alice');
    await bus.consume('dave', got.handler);
    const ks = env.keystore;
    const mixed = await craftFrame(ks, {
      from: 'alice',
      to: 'dave',
      payload: Buffer.from('first'),
      more: [
        { payload: Buffer.from('misaddressed'), header: { to: 'carol' } },
        { payload: Buffer.from('stale'), header: { ts: Date.now() - 10_000, ttl: 1_000 } },
        { payload: Buffer.from('last') },
      ],
    });
    await env.inject('dave', mixed);
    await got.waitFor(2);
    await expectDead(mixed.ids[1] as string, 'wrong_recipient', bus);
    await expectDead(mixed.ids[2] as string, 'expired', bus);
    // one flipped ciphertext byte in a signed frame of two: both messages rejected, none delivered
    const whole = await craftFrame(ks, {
      from: 'alice',
      to: 'dave',
      corruptCiphertext: true,
      more: [{ payload: Buffer.from('innocent') }],
    });
    await env.inject('dave', whole);
    await expectDead(whole.ids[0] as string, 'decryption_failed', bus);
    await expectDead(whole.ids[1] as string, 'decryption_failed', bus);
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['first', 'last'],
    );
  });

  test('a frame of more than maxBatch messages is refused whole (too_large); nothing of it is delivered', async () => {
    const bus = await env.bus({ options: { maxBatch: 2 } });
    const got = collector();
    await bus.register('alice');
    await bus.consume('erin', got.handler);
    const three = await craftFrame(env.keystore, {
      from: 'alice',
      to: 'erin',
      more: [{ payload: Buffer.from('two') }, { payload: Buffer.from('three') }],
    });
    const two = await craftFrame(env.keystore, {
      from: 'alice',
      to: 'erin',
      payload: Buffer.from('one of two'),
      more: [{ payload: Buffer.from('two of two') }],
    });
    await env.inject('erin', three);
    await env.inject('erin', two);
    await got.waitFor(2);
    const letters = (await bus.deadLetters.list({ count: 500 })).filter(
      (d) => d.to === '?' || d.to === 'erin',
    );
    const refused = letters.filter((d) => d.reason === 'too_large');
    assert.equal(refused.length, 1, JSON.stringify(letters));
    assert.match(refused[0]?.detail ?? '', /frame holds 3 messages; the limit is 2 \(maxBatch\)/);
    await sleep(200);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['one of two', 'two of two'],
    );
  });

  test('sender-side drops: too large, unknown recipient, policy denied, policy that throws (fail closed)', async () => {
    const audit: string[] = [];
    const deny = await env.bus({
      options: { maxMessageBytes: 1024 },
      policy: {
        checkSend: (m) =>
          Promise.resolve({
            allowed: m.to !== 'vault',
            reasons: m.to === 'vault' ? ['vault is off limits'] : [],
          }),
      },
      audit: { record: (e) => void audit.push(`${e.kind}:${e.kind === 'message.dropped' ? e.reason : ''}`) },
    });
    const broken = await env.bus({ policy: { checkSend: () => Promise.reject(new Error('engine down')) } });
    await deny.register('vault');
    await deny.register('ok');
    const tooLarge = await deny.send({ from: 'a', to: 'ok', payload: Buffer.alloc(2048) });
    assert.equal(tooLarge.status, 'dead_lettered');
    assert.equal(tooLarge.status === 'dead_lettered' && tooLarge.reason, 'too_large');
    const unknown = await deny.send({ from: 'a', to: 'nobody-here', payload: 'x' });
    assert.equal(unknown.status === 'dead_lettered' && unknown.reason, 'unknown_recipient');
    const denied = await deny.send({ from: 'a', to: 'vault', payload: 'x' });
    assert.equal(denied.status === 'dead_lettered' && denied.detail, 'vault is off limits');
    const failClosed = await broken.send({ from: 'a', to: 'ok', payload: 'x' });
    assert.equal(failClosed.status === 'dead_lettered' && failClosed.reason, 'policy_denied');
    assert.match(failClosed.status === 'dead_lettered' ? failClosed.detail : '', /engine down/);
    assert.equal(await env.redis.xLen(`${env.prefix}:inbox:vault`), 0);
    assert.deepEqual(audit, [
      'message.dropped:too_large',
      'message.dropped:unknown_recipient',
      'message.dropped:policy_denied',
    ]);
    const dls = await deny.deadLetters.list({ count: 100 });
    const mine = dls.find((d) => d.messageId === unknown.id);
    assert.equal(mine?.replayable, false);
    await assert.rejects(deny.deadLetters.replay(mine?.entryId ?? ''), /has no envelope to replay/);
  });
});
