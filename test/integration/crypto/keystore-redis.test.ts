/**
 * The keystore over the real Redis (docs/bus.md, "Keys"): each owner's records live in the hash
 * `${prefix}:ks:${owner}`, sealed with AES-256-GCM under the master key. What Redis holds must carry
 * no key material in any usual encoding, and a keystore with another master key on the same prefix
 * must refuse the records (KeystoreError) rather than use or replace them.
 */
import assert from 'node:assert/strict';
import { randomBytes, type KeyObject } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient, RESP_TYPES } from 'redis';
import { compileSettings } from '../../../src/config/index.js';
import {
  createKeystore,
  createRedisKeystoreBackend,
  DecryptionError,
  exportPrivateKey,
  KeystoreError,
  signEd25519,
  verifyEd25519,
  type Keystore,
} from '../../../src/crypto/index.js';
import { randomId } from '../../../src/util/ids.js';
import { redisClientOptions } from '../../../src/util/redis-url.js';
import { deleteKeys } from '../../helpers/runtime.js';
import { leakIn } from '../../helpers/leaks.js';

const REDIS_URL = compileSettings().redisUrl;
const DAY = 86_400_000;
/** A fixed time, ten minutes into epoch 20,000 of the default (24 h) rotation interval. */
const now = (): number => 20_000 * DAY + 600_000;

const redis = createClient(redisClientOptions(REDIS_URL));
const prefix = `test:${randomId('ks')}`;

before(async () => {
  await redis.connect();
});
after(async () => {
  await deleteKeys(REDIS_URL, `${prefix}:*`);
  const left: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) left.push(...batch);
  await redis.close();
  assert.deepEqual(left, [], 'the test removed its keys');
});

/** The secret bytes of a signing key: its PKCS#8 DER and the 32-byte seed inside it. */
function signingSecrets(privateKey: KeyObject): Buffer[] {
  const der = exportPrivateKey(privateKey);
  return [der, der.subarray(der.length - 32)];
}

/** Every field and value of the hash at `key`, as bytes. */
async function hashOf(key: string): Promise<Map<string, Buffer>> {
  // (withTypeMapping does not reach sendCommand: the mapping must be passed with the command.)
  const flat = await redis.sendCommand<Buffer[]>(['HGETALL', key], {
    typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.ARRAY]: Array },
  });
  assert.ok(
    flat.every((b) => Buffer.isBuffer(b)),
    'HGETALL gave bytes',
  );
  const out = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set((flat[i] as Buffer).toString(), flat[i + 1] as Buffer);
  return out;
}

/** The keystore's keys in Redis under this test's prefix. */
async function keystoreKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: `${prefix}:ks:*`, COUNT: 500 })) keys.push(...batch);
  return keys.sort();
}

const keystore = (masterKey: Buffer): Keystore =>
  createKeystore({ masterKey, backend: createRedisKeystoreBackend(redis, prefix), now });

/** The error a lookup gives for a record that does not authenticate under the master key. */
const unsealFailure =
  (owner: string, kid: string) =>
  (e: unknown): boolean =>
    e instanceof KeystoreError &&
    e.owner === owner &&
    e.keyId === kid &&
    e.cause instanceof DecryptionError &&
    e.message ===
      `key '${kid}' of '${owner}' cannot be unsealed: wrong master key (check ARS_MASTER_KEY) or a corrupted record`;

describe('keystore on Redis', () => {
  const master = randomBytes(32);
  const owners = [`agent:${randomId('a')}`, `agent:${randomId('b')}`];
  const made = new Map<
    string,
    { enc: { kid: string; key: Buffer }; sign: { kid: string; privateKey: KeyObject } }
  >();

  before(async () => {
    const ks = keystore(master);
    for (const owner of owners)
      made.set(owner, { enc: await ks.currentEncryptionKey(owner), sign: await ks.currentSigningKey(owner) });
  });

  test('the values under ${prefix}:ks:* hold no key material in raw, base64 or hex form', async () => {
    assert.deepEqual(
      await keystoreKeys(),
      owners.map((o) => `${prefix}:ks:${o}`).sort(),
      'one hash per owner',
    );
    const secrets: Buffer[] = [master];
    for (const { enc, sign } of made.values()) secrets.push(enc.key, ...signingSecrets(sign.privateKey));
    for (const owner of owners) {
      const { enc, sign } = made.get(owner) ?? assert.fail(`no keys made for ${owner}`);
      const stored = await hashOf(`${prefix}:ks:${owner}`);
      assert.deepEqual([...stored.keys()].sort(), [enc.kid, sign.kid].sort(), `the fields of ${owner}`);
      for (const [field, blob] of stored)
        for (const [i, secret] of secrets.entries())
          assert.equal(leakIn(blob, secret), undefined, `${owner} ${field} holds secret #${i}`);
    }
    // What Redis holds is what the keystore reads back: a fresh keystore with the master key opens it.
    const fresh = keystore(master);
    for (const [owner, { enc, sign }] of made) {
      assert.deepEqual(await fresh.decryptionKey(owner, enc.kid), enc.key);
      const pub = await fresh.verificationKey(owner, sign.kid);
      assert.ok(pub && verifyEd25519(pub, Buffer.from('m'), signEd25519(sign.privateKey, Buffer.from('m'))));
    }
  });

  test('a keystore with another master key on the same prefix cannot use the keys, nor replace them', async () => {
    const stored = new Map<string, Map<string, Buffer>>();
    for (const owner of owners) stored.set(owner, await hashOf(`${prefix}:ks:${owner}`));
    const wrong = keystore(randomBytes(32));
    for (const [owner, { enc, sign }] of made) {
      await assert.rejects(wrong.decryptionKey(owner, enc.kid), unsealFailure(owner, enc.kid));
      await assert.rejects(wrong.verificationKey(owner, sign.kid), unsealFailure(owner, sign.kid));
      await assert.rejects(wrong.currentEncryptionKey(owner), unsealFailure(owner, enc.kid));
      await assert.rejects(wrong.currentSigningKey(owner), unsealFailure(owner, sign.kid));
    }
    for (const owner of owners)
      assert.deepEqual(await hashOf(`${prefix}:ks:${owner}`), stored.get(owner), `${owner} unchanged`);
  });

  test('a record altered in Redis fails loudly instead of giving another key', async () => {
    const [owner] = owners as [string];
    const { enc } = made.get(owner) ?? assert.fail(`no keys made for ${owner}`);
    const victim = `agent:${randomId('c')}`;
    const blob = (await hashOf(`${prefix}:ks:${owner}`)).get(enc.kid) ?? assert.fail('no enc record');
    const flipped = Buffer.from(blob);
    flipped[20] = (flipped[20] as number) ^ 0x01;
    await redis.hSet(`${prefix}:ks:${victim}`, enc.kid, flipped);
    const ks = keystore(master);
    await assert.rejects(ks.decryptionKey(victim, enc.kid), unsealFailure(victim, enc.kid));
    // The unaltered record copied to another owner fails too: the owner is bound into the seal.
    await redis.hSet(`${prefix}:ks:${victim}`, enc.kid, blob);
    await assert.rejects(keystore(master).decryptionKey(victim, enc.kid), unsealFailure(victim, enc.kid));
  });
});
