import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  ED25519_PROVIDER_ENV,
  ed25519Provider,
  exportPrivateKey,
  generateSigningKeyPair,
  importPrivateKey,
  signEd25519,
  verifyEd25519,
} from '../../../src/crypto/index.js';
import { importedWith } from '../../helpers/import-with-env.js';

/** An Ed25519 private key from a 32-byte seed (PKCS#8 DER: a fixed prefix, then the seed). */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const keyFromSeed = (seed: Uint8Array) => importPrivateKey(Buffer.concat([PKCS8_PREFIX, seed]));

const addonLoads = ((): boolean => {
  try {
    createRequire(import.meta.url)('sodium-native');
    return true;
  } catch {
    return false;
  }
})();
const MODULE = fileURLToPath(new URL('../../../src/crypto/ed25519.js', import.meta.url));

/** Imports the module in a fresh node with ARS_ED25519 set; its provider or its error. */
const providerWith = (value: string) => importedWith(MODULE, 'ed25519Provider', ED25519_PROVIDER_ENV, value);

describe('Ed25519', () => {
  test('the provider is libsodium whenever the sodium-native addon loads', (t) => {
    if (process.env[ED25519_PROVIDER_ENV] === 'node') {
      t.skip(`${ED25519_PROVIDER_ENV}=node forces Node's Ed25519 in this run`);
      return;
    }
    assert.equal(ed25519Provider, addonLoads ? 'sodium' : 'node');
    if (!addonLoads)
      t.diagnostic('sodium-native does not load here: Ed25519 runs on Node crypto (about half the speed)');
  });

  test('signatures are the RFC 8032 ones: equal to Node crypto, accepted by it and accepting its own', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 600 }),
        (seed, data) => {
          const { privateKey, publicKey } = keyFromSeed(seed);
          const ours = signEd25519(privateKey, data);
          const node = sign(null, data, privateKey);
          assert.deepEqual(ours, node);
          assert.equal(verifyEd25519(publicKey, data, node), true);
          assert.equal(verify(null, data, publicKey, ours), true);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('any flipped bit of the data or the signature, or another key, is refused', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (seed, data, at, bit) => {
          const { privateKey, publicKey } = keyFromSeed(seed);
          const signature = signEd25519(privateKey, data);
          const d = Buffer.from(data);
          d[at % d.length] = (d[at % d.length] as number) ^ (1 << bit);
          assert.equal(verifyEd25519(publicKey, d, signature), false);
          const s = Buffer.from(signature);
          s[at % 64] = (s[at % 64] as number) ^ (1 << bit);
          assert.equal(verifyEd25519(publicKey, data, s), false);
          assert.equal(verifyEd25519(generateSigningKeyPair().publicKey, data, signature), false);
        },
      ),
      { numRuns: 200 },
    );
  });

  test('bad input gets false, never an exception: short signature, a key of another kind', () => {
    const { privateKey, publicKey } = generateSigningKeyPair();
    const data = Buffer.from('frame');
    const signature = signEd25519(privateKey, data);
    assert.equal(verifyEd25519(publicKey, data, signature.subarray(0, 63)), false);
    assert.equal(verifyEd25519(publicKey, data, Buffer.concat([signature, Buffer.alloc(1)])), false);
    assert.equal(verifyEd25519(generateKeyPairSync('x25519').publicKey, data, signature), false);
    assert.equal(verifyEd25519(generateKeyPairSync('ed448').publicKey, data, signature), false);
    // a private key verifies as its public key does (as with Node crypto)
    assert.equal(verifyEd25519(privateKey, data, signature), true);
  });

  test('signing with a key that is not an Ed25519 private key throws', () => {
    const { publicKey } = generateSigningKeyPair();
    assert.throws(() => signEd25519(publicKey, Buffer.from('x')), TypeError);
    assert.throws(() => signEd25519(generateKeyPairSync('x25519').privateKey, Buffer.from('x')), TypeError);
  });

  test('keys survive export and import (the keystore seals them as PKCS#8)', () => {
    const pair = generateSigningKeyPair();
    const again = importPrivateKey(exportPrivateKey(pair.privateKey));
    const data = Buffer.from('rotated');
    assert.deepEqual(signEd25519(again.privateKey, data), signEd25519(pair.privateKey, data));
    assert.equal(verifyEd25519(pair.publicKey, data, signEd25519(again.privateKey, data)), true);
    assert.equal(again.publicKey.asymmetricKeyType, 'ed25519');
  });

  test(`${ED25519_PROVIDER_ENV} chooses the provider; an unknown value or an addon that cannot load is a clear error`, (t) => {
    assert.deepEqual(providerWith('node'), { provider: 'node' });
    assert.deepEqual(providerWith('auto'), { provider: addonLoads ? 'sodium' : 'node' });
    assert.deepEqual(providerWith(''), { provider: addonLoads ? 'sodium' : 'node' });
    assert.deepEqual(providerWith('openssl'), {
      error: `Ed25519ProviderError: ${ED25519_PROVIDER_ENV}='openssl' is unknown; use auto, sodium or node (or leave it unset)`,
    });
    if (!addonLoads) {
      assert.match(
        providerWith('sodium').error ?? '',
        /^Ed25519ProviderError: ARS_ED25519=sodium, but the sodium-native addon does not load/,
      );
      t.diagnostic('sodium-native does not load here: only the error for ARS_ED25519=sodium was checked');
    } else assert.deepEqual(providerWith('sodium'), { provider: 'sodium' });
  });
});
