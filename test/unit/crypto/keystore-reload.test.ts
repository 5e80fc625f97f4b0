import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import {
  AEAD_NONCE_BYTES,
  createKeystore,
  createMemoryKeystoreBackend,
  KEYSTORE_CACHE_LIMITS,
  KeystoreError,
  sealAead,
  signEd25519,
  verifyEd25519,
  type Keystore,
  type KeystoreBackend,
} from '../../../src/crypto/index.js';

const DAY = 86_400_000;
/** An epoch number far from 0, and a time ten minutes into it (inside the grace of the epoch before). */
const E = 20_000;
const T0 = E * DAY + 600_000;

/** Counts backend loads per owner. */
function counting(backend: KeystoreBackend): { backend: KeystoreBackend; loads: Map<string, number> } {
  const loads = new Map<string, number>();
  return {
    loads,
    backend: {
      ...backend,
      load: (owner) => {
        loads.set(owner, (loads.get(owner) ?? 0) + 1);
        return backend.load(owner);
      },
    },
  };
}

const total = (loads: Map<string, number>): number => [...loads.values()].reduce((a, b) => a + b, 0);

/**
 * A backend whose loads read the records at once but answer only when the gate opens: a reload
 * "in flight" that cannot see records written after it started, as with a slow HGETALL.
 */
function gated(backend: KeystoreBackend): { backend: KeystoreBackend; hold(): void; release(): void } {
  let gate: Promise<void> | undefined;
  let open = (): void => {};
  return {
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      gate = undefined;
      open();
    },
    backend: {
      ...backend,
      load: async (owner) => {
        const snapshot = backend.load(owner);
        if (gate) await gate;
        return snapshot;
      },
    },
  };
}

/**
 * Two keystores over one backend, standing for two processes: `sender` writes at once, `receiver`
 * reads through a gate (its reloads can be held in flight) with a 60 s reload cooldown.
 */
function gatedPair(now: () => number): {
  sender: Keystore;
  receiver: Keystore;
  slow: ReturnType<typeof gated>;
} {
  const masterKey = randomBytes(32);
  const shared = createMemoryKeystoreBackend();
  const slow = gated(shared);
  const sender = createKeystore({ masterKey, backend: shared, now });
  const receiver = createKeystore({
    masterKey,
    backend: slow.backend,
    options: { reloadCooldownMs: 60_000 },
    now,
  });
  return { sender, receiver, slow };
}

/** A logger that records every warn line. */
function recordingLogger(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'warn' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

const isKeystoreError =
  (owner: string, keyId: string, message: RegExp) =>
  (e: unknown): boolean =>
    e instanceof KeystoreError &&
    e.code === 'ARS_KEYSTORE' &&
    e.owner === owner &&
    e.keyId === keyId &&
    message.test(e.message);

describe('keystore reloads after another process rotates', () => {
  test('concurrent lookups of a key just rotated in by another process all find it, with one reload', async () => {
    let t = T0;
    const masterKey = randomBytes(32);
    const shared = createMemoryKeystoreBackend();
    const { backend, loads } = counting(shared);
    const sender = createKeystore({ masterKey, backend: shared, now: () => t });
    const receiver = createKeystore({ masterKey, backend, now: () => t });
    const k0 = await sender.currentEncryptionKey('bus:broadcast');
    assert.deepEqual(await receiver.decryptionKey('bus:broadcast', k0.kid), k0.key);
    t += DAY;
    const k1 = await sender.currentEncryptionKey('bus:broadcast');
    const before = total(loads);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => receiver.decryptionKey('bus:broadcast', k1.kid)),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: 8 }, () => k1.key),
    );
    assert.equal(total(loads) - before, 1, 'one reload serves every lookup');
  });

  test('lookups arriving while the reload is in flight wait for it instead of answering unknown', async () => {
    let t = T0;
    const { sender, receiver, slow } = gatedPair(() => t);
    const s0 = await sender.currentSigningKey('agent:a');
    assert.ok(await receiver.verificationKey('agent:a', s0.kid));
    t += DAY;
    const s1 = await sender.currentSigningKey('agent:a');
    slow.hold();
    const first = receiver.verificationKey('agent:a', s1.kid);
    await new Promise((resolve) => setImmediate(resolve));
    t += 10; // later lookups fall inside the cooldown of the first one's reload
    const later = Array.from({ length: 5 }, () => receiver.verificationKey('agent:a', s1.kid));
    slow.release();
    const message = Buffer.from('m');
    const signature = signEd25519(s1.privateKey, message);
    for (const pub of await Promise.all([first, ...later]))
      assert.ok(pub && verifyEd25519(pub, message, signature), 'every lookup finds the new key');
  });

  test('a lookup that joins a reload begun before its key was written starts a fresh one', async () => {
    const t = T0;
    const { sender, receiver, slow } = gatedPair(() => t);
    const enc = await sender.currentEncryptionKey('agent:x');
    assert.deepEqual(await receiver.decryptionKey('agent:x', enc.kid), enc.key);
    slow.hold();
    // A reload for another key id (here the next epoch's, not made yet) reads the records now...
    const other = receiver.verificationKey('agent:x', `sign.${E + 1}`);
    // ...then the sender makes its signing key, and a frame signed with it arrives.
    const signing = await sender.currentSigningKey('agent:x');
    const found = receiver.verificationKey('agent:x', signing.kid);
    slow.release();
    assert.equal(await other, undefined);
    const pub = await found;
    const sig = signEd25519(signing.privateKey, Buffer.from('m'));
    assert.ok(pub && verifyEd25519(pub, Buffer.from('m'), sig));
  });

  test('a miss of the next epoch key just before the rollover does not hide that key after it', async () => {
    let t = (E + 1) * DAY - 10;
    const masterKey = randomBytes(32);
    const shared = createMemoryKeystoreBackend();
    const { backend, loads } = counting(shared);
    const sender = createKeystore({ masterKey, backend: shared, now: () => t });
    const receiver = createKeystore({
      masterKey,
      backend,
      options: { reloadCooldownMs: 60_000 },
      now: () => t,
    });
    await sender.currentSigningKey('agent:a');
    const next = `sign.${E + 1}`;
    assert.equal(
      await receiver.verificationKey('agent:a', next),
      undefined,
      'a forged frame "pre-misses" it',
    );
    t += 20; // the rollover
    const rotated = await sender.currentSigningKey('agent:a');
    assert.equal(rotated.kid, next);
    assert.ok(await receiver.verificationKey('agent:a', next), 'found within the cooldown of the pre-miss');
    const before = total(loads);
    const absent = `sign.${E + 2}`;
    await Promise.all(Array.from({ length: 20 }, () => receiver.verificationKey('agent:a', absent)));
    await receiver.verificationKey('agent:a', absent);
    assert.equal(total(loads) - before, 1, 'a key id that stays unknown reloads once per cooldown');
  });
});

describe('keystore records that do not unseal', () => {
  test('a bad record is skipped, logged and never used; the owner keeps its other keys', async () => {
    const t = T0;
    const masterKey = randomBytes(32);
    const backend = createMemoryKeystoreBackend();
    const sender = createKeystore({ masterKey, backend, now: () => t });
    const signing = await sender.currentSigningKey('agent:x');
    const enc = await sender.currentEncryptionKey('agent:x');
    const records = backend.records.get('agent:x') as Map<string, Buffer>;
    // A record written by a process that has another master key.
    const elsewhere = createMemoryKeystoreBackend();
    await createKeystore({
      masterKey: randomBytes(32),
      backend: elsewhere,
      now: () => t - DAY,
    }).currentSigningKey('agent:x');
    records.set(`sign.${E - 1}`, elsewhere.records.get('agent:x')?.get(`sign.${E - 1}`) as Buffer);
    // A valid record copied under another key id: its seal binds it to its own id.
    records.set(`enc.${E + 1}`, records.get(enc.kid) as Buffer);
    // A stray HSET.
    records.set('junk', randomBytes(40));
    // A record that unseals (right master key and field) but whose content is malformed.
    const body = { kind: 'enc', epoch: E - 1, material: randomBytes(16).toString('base64') };
    const sealed = sealAead(
      masterKey,
      Buffer.from(JSON.stringify(body)),
      Buffer.from(`ars-keystore-v1\0agent:x\0enc.${E - 1}`),
    );
    assert.equal(sealed.nonce.length, AEAD_NONCE_BYTES);
    records.set(`enc.${E - 1}`, Buffer.concat([sealed.nonce, sealed.ciphertext]));

    const { logger, lines } = recordingLogger();
    const receiver = createKeystore({ masterKey, backend, logger, now: () => t });
    assert.deepEqual(await receiver.decryptionKey('agent:x', enc.kid), enc.key);
    const pub = await receiver.verificationKey('agent:x', signing.kid);
    const sig = signEd25519(signing.privateKey, Buffer.from('m'));
    assert.ok(pub && verifyEd25519(pub, Buffer.from('m'), sig));
    assert.deepEqual(await receiver.currentEncryptionKey('agent:x'), enc, 'the good key is kept');

    await assert.rejects(
      receiver.verificationKey('agent:x', `sign.${E - 1}`),
      isKeystoreError('agent:x', `sign.${E - 1}`, /cannot be unsealed: wrong master key/),
    );
    await assert.rejects(
      receiver.decryptionKey('agent:x', `enc.${E + 1}`),
      isKeystoreError('agent:x', `enc.${E + 1}`, /cannot be unsealed/),
    );
    await assert.rejects(
      receiver.decryptionKey('agent:x', `enc.${E - 1}`),
      isKeystoreError('agent:x', `enc.${E - 1}`, /is malformed/),
    );
    const warned = lines.filter((l) => l.level === 40 && l.owner === 'agent:x').map((l) => l.keyId);
    assert.deepEqual(new Set(warned), new Set([`sign.${E - 1}`, `enc.${E + 1}`, `enc.${E - 1}`, 'junk']));
    assert.equal(warned.length, 4, 'each bad record is logged once, not at every reload');
  });

  test('a bad record at the current key id fails closed: it is neither used nor replaced', async () => {
    const masterKey = randomBytes(32);
    const backend = createMemoryKeystoreBackend();
    const planted = randomBytes(60);
    await backend.putIfAbsent('agent:y', `sign.${E}`, planted);
    const ks = createKeystore({ masterKey, backend, now: () => T0 });
    await assert.rejects(
      ks.currentSigningKey('agent:y'),
      isKeystoreError('agent:y', `sign.${E}`, /cannot be unsealed/),
    );
    assert.equal(ks.peekSigningKey('agent:y'), undefined);
    assert.deepEqual(backend.records.get('agent:y')?.get(`sign.${E}`), planted, 'not overwritten');
    const enc = await ks.currentEncryptionKey('agent:y');
    assert.deepEqual(await ks.decryptionKey('agent:y', enc.kid), enc.key, 'the owner still has keys');
  });
});

describe('keystore cache bounds', () => {
  test('at most KEYSTORE_CACHE_LIMITS.owners owners are held, the least recently used goes first', async () => {
    const cap = KEYSTORE_CACHE_LIMITS.owners;
    const masterKey = randomBytes(32);
    const shared = createMemoryKeystoreBackend();
    const writer = createKeystore({ masterKey, backend: shared, now: () => T0 });
    const keys: Buffer[] = [];
    for (let i = 0; i <= cap; i++) keys.push((await writer.currentEncryptionKey(`agent:o${i}`)).key);
    const { backend, loads } = counting(shared);
    const reader = createKeystore({ masterKey, backend, now: () => T0 });
    const kid = `enc.${E}`;
    for (let i = 0; i < cap; i++) assert.deepEqual(await reader.decryptionKey(`agent:o${i}`, kid), keys[i]);
    assert.equal(total(loads), cap);
    await reader.decryptionKey('agent:o0', kid); // o0 is now the most recently used, o1 the least
    await reader.decryptionKey(`agent:o${cap}`, kid);
    loads.clear();
    assert.deepEqual(await reader.decryptionKey('agent:o0', kid), keys[0]);
    assert.equal(loads.get('agent:o0'), undefined, 'o0 is still held');
    assert.deepEqual(await reader.decryptionKey('agent:o1', kid), keys[1]);
    assert.equal(loads.get('agent:o1'), 1, 'o1 was evicted, and is loaded again');
  });

  test('forged senders neither push out real owners nor reset their cooldown', async () => {
    const masterKey = randomBytes(32);
    const shared = createMemoryKeystoreBackend();
    const { backend, loads } = counting(shared);
    const sender = createKeystore({ masterKey, backend: shared, now: () => T0 });
    const receiver = createKeystore({
      masterKey,
      backend,
      options: { reloadCooldownMs: 60_000 },
      now: () => T0,
    });
    const enc = await sender.currentEncryptionKey('agent:x');
    assert.deepEqual(await receiver.decryptionKey('agent:x', enc.kid), enc.key);
    const next = `enc.${E + 1}`;
    assert.equal(await receiver.decryptionKey('agent:x', next), undefined);
    assert.equal(loads.get('agent:x'), 2);
    // Forged frames claim 20,000 senders that have no keys, each with a plausible key id.
    const forged = 20_000;
    for (let i = 0; i < forged; i++)
      assert.equal(await receiver.decryptionKey(`agent:forged${i}`, `enc.${E}`), undefined);
    assert.equal(total(loads), 2 + forged, 'one load per forged sender');
    assert.deepEqual(await receiver.decryptionKey('agent:x', enc.kid), enc.key);
    assert.equal(await receiver.decryptionKey('agent:x', next), undefined);
    assert.equal(loads.get('agent:x'), 2, 'x is still held and its missing key id still cools down');
    await receiver.decryptionKey(`agent:forged${forged - 1}`, `enc.${E}`);
    assert.equal(loads.get(`agent:forged${forged - 1}`), 1, 'a recent forged sender is not reloaded');
    await receiver.decryptionKey('agent:forged0', `enc.${E}`);
    assert.equal(
      loads.get('agent:forged0'),
      2,
      `senders without keys are forgotten beyond the last ${KEYSTORE_CACHE_LIMITS.emptyOwners}`,
    );
  });
});
