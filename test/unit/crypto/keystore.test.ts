import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  createKeystore,
  createMemoryKeystoreBackend,
  DecryptionError,
  exportPrivateKey,
  KeystoreError,
  loadMasterKey,
  loadOrCreateMasterKey,
  MasterKeyError,
  openAead,
  sealAead,
  signEd25519,
  verifyEd25519,
} from '../../../src/crypto/index.js';
import { leakIn } from '../../helpers/leaks.js';

const DAY = 86_400_000;
/** A fixed time, ten minutes into epoch 20,000 of the default (24 h) rotation interval. */
const T0 = 20_000 * DAY + 600_000;
const now = (): number => T0;

/** The secret bytes of a signing key: its PKCS#8 DER and the 32-byte seed inside it. */
function signingSecrets(privateKey: Parameters<typeof exportPrivateKey>[0]): Buffer[] {
  const der = exportPrivateKey(privateKey);
  return [der, der.subarray(der.length - 32)];
}

/** The error a lookup gives for a record that does not authenticate under the master key. */
const unsealFailure =
  (owner: string, kid: string) =>
  (e: unknown): boolean =>
    e instanceof KeystoreError &&
    e.code === 'ARS_KEYSTORE' &&
    e.owner === owner &&
    e.keyId === kid &&
    e.cause instanceof DecryptionError &&
    e.message ===
      `key '${kid}' of '${owner}' cannot be unsealed: wrong master key (check ARS_MASTER_KEY) or a corrupted record`;

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

  test('the leak check finds key material in every form it looks for', () => {
    const secret = randomBytes(32);
    // The record body as the keystore seals it: unsealed, it would carry the key as base64.
    const body = (pad: string, material: Buffer): Buffer =>
      Buffer.from(JSON.stringify({ kind: 'enc', epoch: 1, material: pad + material.toString('base64') }));
    for (let junk = 0; junk < 3; junk++) {
      const inside = Buffer.concat([randomBytes(junk), secret, randomBytes(5)]);
      assert.match(leakIn(body('', inside), secret) ?? '', /^base64@/, `base64 after ${junk} bytes`);
      assert.match(
        leakIn(Buffer.from(inside.toString('base64url')), secret) ?? '',
        /^base64(url)?@/,
        `base64url after ${junk} bytes`,
      );
    }
    assert.equal(leakIn(Buffer.concat([randomBytes(7), secret]), secret), 'raw');
    assert.equal(leakIn(Buffer.from(`x${secret.toString('hex')}`), secret), 'hex');
    assert.equal(leakIn(Buffer.from(secret.toString('hex').toUpperCase()), secret), 'HEX');
    assert.equal(leakIn(randomBytes(4096), secret), undefined);
  });

  test('records at rest hold no key material (raw, base64 or hex) and open only with their master key', async () => {
    const backend = createMemoryKeystoreBackend();
    const master = randomBytes(32);
    const a = createKeystore({ masterKey: master, backend, now });
    const b = createKeystore({ masterKey: master, backend, now });
    const [ka, kb] = await Promise.all([
      a.currentEncryptionKey('agent:x'),
      b.currentEncryptionKey('agent:x'),
    ]);
    assert.deepEqual(ka, kb);
    const sk = await a.currentSigningKey('agent:x');
    const stored = backend.records.get('agent:x');
    assert.deepEqual([...(stored?.keys() ?? [])].sort(), [ka.kid, sk.kid].sort(), 'one record per key');
    const secrets = [ka.key, ...signingSecrets(sk.privateKey)];
    for (const [field, blob] of stored ?? []) {
      for (const secret of secrets) assert.equal(leakIn(blob, secret), undefined, `record ${field} leaks`);
      assert.equal(leakIn(blob, master), undefined, `record ${field} holds the master key`);
    }
    const before = new Map(stored);
    const wrong = createKeystore({ masterKey: randomBytes(32), backend, now });
    await assert.rejects(wrong.decryptionKey('agent:x', ka.kid), unsealFailure('agent:x', ka.kid));
    await assert.rejects(wrong.verificationKey('agent:x', sk.kid), unsealFailure('agent:x', sk.kid));
    // Nor does a keystore with the wrong master key replace the records it cannot open.
    await assert.rejects(wrong.currentEncryptionKey('agent:x'), unsealFailure('agent:x', ka.kid));
    await assert.rejects(wrong.currentSigningKey('agent:x'), unsealFailure('agent:x', sk.kid));
    assert.deepEqual(backend.records.get('agent:x'), before, 'the records are unchanged');
    // The right master key still opens them (from a fresh keystore, so nothing comes from memory).
    const again = createKeystore({ masterKey: master, backend, now });
    assert.deepEqual(await again.decryptionKey('agent:x', ka.kid), ka.key);
    const pub = await again.verificationKey('agent:x', sk.kid);
    assert.ok(pub && verifyEd25519(pub, Buffer.from('m'), signEd25519(sk.privateKey, Buffer.from('m'))));
  });

  test('a record with any one byte flipped, or moved to another owner or key id, fails loudly and is kept', async () => {
    const master = randomBytes(32);
    const origin = createMemoryKeystoreBackend();
    const maker = createKeystore({ masterKey: master, backend: origin, now });
    const enc = await maker.currentEncryptionKey('agent:x');
    const sign = await maker.currentSigningKey('agent:x');
    const records = origin.records.get('agent:x') ?? new Map<string, Buffer>();

    /** A fresh keystore over a backend holding only `blob` as field `kid` of `owner`. */
    const over = (owner: string, kid: string, blob: Buffer) => {
      const backend = createMemoryKeystoreBackend();
      backend.records.set(owner, new Map([[kid, blob]]));
      return { backend, ks: createKeystore({ masterKey: master, backend, now }) };
    };
    /** Looking up key `kid` of `owner` rejects, as does asking for the current key if `kid` is it; the record stays. */
    const assertUnusable = async (owner: string, kid: string, blob: Buffer, what: string) => {
      const { backend, ks } = over(owner, kid, blob);
      const isEnc = kid.startsWith('enc.');
      await assert.rejects(
        isEnc ? ks.decryptionKey(owner, kid) : ks.verificationKey(owner, kid),
        unsealFailure(owner, kid),
        `${what}: lookup`,
      );
      if (kid === enc.kid || kid === sign.kid)
        await assert.rejects(
          isEnc ? ks.currentEncryptionKey(owner) : ks.currentSigningKey(owner),
          unsealFailure(owner, kid),
          `${what}: current key`,
        );
      assert.deepEqual(backend.records.get(owner)?.get(kid), blob, `${what}: the record is not replaced`);
    };

    for (const kid of [enc.kid, sign.kid]) {
      const blob = records.get(kid);
      assert.ok(blob, `record ${kid} stored`);
      // The untouched record works through the same path, so the failures below come from the flip.
      const { ks } = over('agent:x', kid, blob);
      if (kid === enc.kid) assert.deepEqual(await ks.decryptionKey('agent:x', kid), enc.key);
      else assert.ok(await ks.verificationKey('agent:x', kid));
      for (let i = 0; i < blob.length; i++) {
        const flipped = Buffer.from(blob);
        flipped[i] = (flipped[i] as number) ^ (1 << (i % 8));
        await assertUnusable('agent:x', kid, flipped, `${kid} byte ${i}/${blob.length}`);
      }
      await assertUnusable('agent:y', kid, blob, `${kid} moved to agent:y`);
    }
    // Under another key id of the same owner (a plausible one: the next epoch, and the other kind).
    const nextEnc = `enc.${Number(enc.kid.split('.')[1]) + 1}`;
    await assertUnusable('agent:x', nextEnc, records.get(enc.kid) as Buffer, 'enc moved to the next epoch');
    await assertUnusable('agent:x', sign.kid, records.get(enc.kid) as Buffer, 'enc moved to sign');
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

describe('master key files', () => {
  const root = mkdtempSync(join(tmpdir(), 'ars-master-key-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  let files = 0;
  /** Writes `contents` to a fresh file under the test's temporary directory; returns its path. */
  const keyFile = (contents: string | Buffer): string => {
    const path = join(root, `key-${files++}`);
    writeFileSync(path, contents, { mode: 0o600 });
    return path;
  };
  /** The refusal of a malformed key, naming the variable, or the key file and its path. */
  const refusedFrom = (source: 'env' | 'file', path?: string) => (e: unknown) =>
    e instanceof MasterKeyError &&
    e.code === 'ARS_MASTER_KEY_INVALID' &&
    e.source === source &&
    e.message ===
      `the master key from ${source === 'env' ? 'ARS_MASTER_KEY' : `the key file '${path}'`} must be 32 bytes written as 64 hex digits or base64; generate one with: openssl rand -base64 32`;

  test('a key file in hex, base64 or base64url is read through the file option or ARS_MASTER_KEY_FILE', () => {
    const key = randomBytes(32);
    const texts = [
      key.toString('hex'),
      `${key.toString('hex').toUpperCase()}\n`,
      `${key.toString('base64')}\n`,
      `  ${key.toString('base64')}\r\n`,
      key.toString('base64url'),
    ];
    for (const text of texts) {
      const file = keyFile(text);
      assert.deepEqual(loadMasterKey({ env: {}, file }), key, `file option: ${JSON.stringify(text)}`);
      assert.deepEqual(
        loadMasterKey({ env: { ARS_MASTER_KEY_FILE: file } }),
        key,
        `ARS_MASTER_KEY_FILE: ${JSON.stringify(text)}`,
      );
    }
    const file = keyFile(key.toString('hex'));
    const other = randomBytes(32);
    assert.deepEqual(
      loadMasterKey({ env: { ARS_MASTER_KEY: other.toString('base64'), ARS_MASTER_KEY_FILE: file } }),
      other,
      'ARS_MASTER_KEY comes before the file',
    );
    assert.deepEqual(
      loadMasterKey({ env: { ARS_MASTER_KEY_FILE: keyFile(other.toString('hex')) }, file }),
      key,
      'the file option comes before ARS_MASTER_KEY_FILE',
    );
    assert.throws(
      () => loadMasterKey({ env: { ARS_MASTER_KEY_FILE: join(root, 'absent.key') } }),
      (e: unknown) =>
        e instanceof MasterKeyError &&
        e.source === 'file' &&
        e.message.startsWith(`cannot read the master key file '${join(root, 'absent.key')}': ENOENT`) &&
        e.message.endsWith('; check ARS_MASTER_KEY_FILE'),
    );
  });

  test('a malformed or wrong-length key is refused, naming ARS_MASTER_KEY or the key file', () => {
    const b64 = (n: number): string => randomBytes(n).toString('base64');
    const hex = (n: number): string => randomBytes(n).toString('hex');
    /** A good base64 key, spoilt below by a stray character inside it. */
    const key32 = b64(32);
    const bad = [
      hex(31),
      hex(33),
      `${hex(16)} ${hex(16)}`,
      'g'.repeat(64),
      b64(31),
      b64(33),
      b64(24),
      `${key32.slice(0, 20)}!${key32.slice(20)}`,
      `${key32.slice(0, 20)} ${key32.slice(20)}`,
      `${b64(32)}\n${b64(32)}`,
      'short',
    ];
    for (const text of bad) {
      assert.throws(() => loadMasterKey({ env: { ARS_MASTER_KEY: text } }), refusedFrom('env'), text);
      const file = keyFile(text);
      assert.throws(() => loadMasterKey({ env: {}, file }), refusedFrom('file', file), text);
      assert.throws(
        () => loadMasterKey({ env: { ARS_MASTER_KEY_FILE: file } }),
        refusedFrom('file', file),
        text,
      );
    }
    // A key file holds text: neither 32 raw bytes nor an empty file is taken for a key.
    for (const contents of [randomBytes(32), '', '\n']) {
      const file = keyFile(contents);
      assert.throws(() => loadMasterKey({ env: {}, file }), refusedFrom('file', file));
      assert.throws(() => loadMasterKey({ env: { ARS_MASTER_KEY_FILE: file } }), refusedFrom('file', file));
    }
  });

  test('loadOrCreateMasterKey creates a 0600 key file on first use and returns the same key after', () => {
    const dir = join(root, 'dev', 'state');
    const devFile = join(dir, 'master.key');
    const first = loadOrCreateMasterKey(devFile, {});
    assert.equal(first.length, 32);
    assert.equal(statSync(devFile).mode & 0o777, 0o600, 'the key file is readable by its owner only');
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'the directory it creates is private too');
    const text = readFileSync(devFile, 'utf8');
    assert.equal(text, `${first.toString('base64')}\n`, 'written as base64');
    assert.deepEqual(loadOrCreateMasterKey(devFile, {}), first, 'the second call reads the same key');
    assert.equal(readFileSync(devFile, 'utf8'), text, 'and does not rewrite the file');
    assert.deepEqual(loadMasterKey({ env: {}, file: devFile }), first);
    assert.notDeepEqual(loadOrCreateMasterKey(join(dir, 'other.key'), {}), first, 'a fresh random key');

    // A configured key comes first, and no development file is made.
    const configured = randomBytes(32);
    const unused = join(root, 'unused', 'master.key');
    assert.deepEqual(
      loadOrCreateMasterKey(unused, { ARS_MASTER_KEY: configured.toString('hex') }),
      configured,
    );
    const file = keyFile(configured.toString('base64'));
    assert.deepEqual(loadOrCreateMasterKey(unused, { ARS_MASTER_KEY_FILE: file }), configured);
    assert.throws(
      () => loadOrCreateMasterKey(unused, { ARS_MASTER_KEY_FILE: join(root, 'absent.key') }),
      (e: unknown) => e instanceof MasterKeyError && /cannot read the master key file/.test(e.message),
      'a configured file that is missing is an error, not a reason to make a key',
    );
    assert.throws(() => statSync(unused), { code: 'ENOENT' });
  });

  test('loadOrCreateMasterKey refuses an existing malformed key file and leaves it as it was', () => {
    for (const contents of ['not a key\n', '', randomBytes(31).toString('base64')]) {
      const file = keyFile(contents);
      assert.throws(
        () => loadOrCreateMasterKey(file, {}),
        refusedFrom('file', file),
        JSON.stringify(contents),
      );
      assert.equal(readFileSync(file, 'utf8'), contents, 'the file is not replaced');
    }
  });
});
