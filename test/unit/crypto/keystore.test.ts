import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  createKeystore,
  createMemoryKeystoreBackend,
  DecryptionError,
  KeystoreError,
  loadMasterKey,
  MasterKeyError,
  openAead,
  sealAead,
  signEd25519,
  verifyEd25519,
} from '../../../src/crypto/index.js';

describe('AES-256-GCM and Ed25519', () => {
  test('round trip; any change to ciphertext, nonce or AAD fails with DecryptionError', () => {
    const key = randomBytes(32);
    const s = sealAead(key, Buffer.from('hello'), Buffer.from('hdr'));
    assert.equal(s.nonce.length, 12);
    assert.equal(openAead(key, s.nonce, s.ciphertext, Buffer.from('hdr')).toString(), 'hello');
    const bad = Buffer.from(s.ciphertext);
    bad[0] = (bad[0] as number) ^ 1;
    for (const attempt of [
      () => openAead(key, s.nonce, bad, Buffer.from('hdr')),
      () => openAead(key, s.nonce, s.ciphertext, Buffer.from('hdR')),
    ]) {
      assert.throws(
        attempt,
        (e: unknown) => e instanceof DecryptionError && e.code === 'ARS_DECRYPTION_FAILED',
      );
    }
    assert.notDeepEqual(sealAead(key, Buffer.from('x')).nonce, sealAead(key, Buffer.from('x')).nonce);
  });
});

describe('keystore', () => {
  test('a key made after an owner was loaded is found at once; forged key ids cause no reload storm', async () => {
    const backend = createMemoryKeystoreBackend();
    const masterKey = randomBytes(32);
    let loads = 0;
    const counted = { ...backend, load: (owner: string) => (loads++, backend.load(owner)) };
    const receiver = createKeystore({ masterKey, backend: counted, options: { reloadCooldownMs: 60_000 } });
    const sender = createKeystore({ masterKey, backend });
    // The receiver loads the owner's keys (only an encryption key exists yet)...
    await sender.currentEncryptionKey('agent:x');
    await receiver.currentEncryptionKey('agent:x');
    // ...then the sender makes its signing key; the receiver must find it within the cooldown.
    const signing = await sender.currentSigningKey('agent:x');
    const pub = await receiver.verificationKey('agent:x', signing.kid);
    assert.ok(pub && verifyEd25519(pub, Buffer.from('m'), signEd25519(signing.privateKey, Buffer.from('m'))));
    const before = loads;
    for (let i = 0; i < 50; i++) {
      assert.equal(
        await receiver.verificationKey('agent:x', `sign.${1e9 + i}`),
        undefined,
        'implausible epoch',
      );
      assert.equal(await receiver.verificationKey('agent:x', `bogus-${i}`), undefined);
    }
    assert.equal(loads, before, 'forged key ids never reach the backend');
    const next = `sign.${Number(signing.kid.split('.')[1]) + 1}`;
    await receiver.verificationKey('agent:x', next);
    await receiver.verificationKey('agent:x', next);
    assert.equal(loads, before + 1, 'a plausible unknown id reloads once per cooldown');
  });

  test('rotates on the interval and honours the grace window', async () => {
    let now = 10_000_000;
    const ks = createKeystore({
      masterKey: randomBytes(32),
      backend: createMemoryKeystoreBackend(),
      options: { rotationIntervalMs: 10_000, graceMs: 2_000 },
      now: () => now,
    });
    assert.equal(ks.peekSigningKey('agent:a'), undefined, 'nothing held before the first use');
    const k1 = await ks.currentSigningKey('agent:a');
    assert.equal(ks.peekSigningKey('agent:a')?.kid, k1.kid, 'peek returns the held current key');
    const sig = signEd25519(k1.privateKey, Buffer.from('m'));
    assert.equal((await ks.currentSigningKey('agent:a')).kid, k1.kid, 'same key within the interval');
    now += 10_000;
    assert.equal(ks.peekSigningKey('agent:a'), undefined, 'peek never returns a key of a past epoch');
    const k2 = await ks.currentSigningKey('agent:a');
    assert.notEqual(k2.kid, k1.kid, 'rotated');
    const pub1 = await ks.verificationKey('agent:a', k1.kid);
    assert.ok(pub1 && verifyEd25519(pub1, Buffer.from('m'), sig), 'old key verifies inside the grace window');
    now += 2_500;
    assert.equal(
      await ks.verificationKey('agent:a', k1.kid),
      undefined,
      'old key is retired after the grace window',
    );
    const e = await ks.currentEncryptionKey('agent:a');
    assert.equal(e.key.length, 32);
    assert.deepEqual(ks.peekEncryptionKey('agent:a'), e);
    assert.deepEqual(await ks.decryptionKey('agent:a', e.kid), e.key);
    assert.equal(await ks.decryptionKey('agent:a', 'enc.0'), undefined);
  });

  test('two keystores over one backend agree on the key; records are sealed at rest', async () => {
    const backend = createMemoryKeystoreBackend();
    const master = randomBytes(32);
    const a = createKeystore({ masterKey: master, backend });
    const b = createKeystore({ masterKey: master, backend });
    const [ka, kb] = await Promise.all([
      a.currentEncryptionKey('agent:x'),
      b.currentEncryptionKey('agent:x'),
    ]);
    assert.deepEqual(ka, kb);
    const stored = [...(backend.records.get('agent:x')?.values() ?? [])];
    assert.ok(
      stored.every((blob) => !blob.includes(ka.key)),
      'the raw key is not stored',
    );
    const wrong = createKeystore({ masterKey: randomBytes(32), backend });
    await assert.rejects(
      wrong.decryptionKey('agent:x', ka.kid),
      (e: unknown) => e instanceof KeystoreError && /wrong master key/.test(e.message),
    );
  });

  test('master key from env (hex or base64) or file; clear errors otherwise', () => {
    const key = randomBytes(32);
    assert.deepEqual(loadMasterKey({ env: { ARS_MASTER_KEY: key.toString('hex') } }), key);
    assert.deepEqual(loadMasterKey({ env: { ARS_MASTER_KEY: key.toString('base64') } }), key);
    assert.throws(
      () => loadMasterKey({ env: { ARS_MASTER_KEY: 'short' } }),
      (e: unknown) => e instanceof MasterKeyError && /32 bytes/.test(e.message),
    );
    assert.throws(
      () => loadMasterKey({ env: {} }),
      (e: unknown) =>
        e instanceof MasterKeyError && e.source === 'none' && /set ARS_MASTER_KEY/.test(e.message),
    );
    assert.throws(
      () => loadMasterKey({ env: {}, file: '/nonexistent/ars.key' }),
      (e: unknown) => e instanceof MasterKeyError && /cannot read the master key file/.test(e.message),
    );
  });
});
