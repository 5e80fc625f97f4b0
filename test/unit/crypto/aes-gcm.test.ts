import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import {
  AES_GCM_PROVIDER_ENV,
  aesGcmNativeAbsence,
  aesGcmProvider,
  nativeAesGcm,
  nodeAesGcm,
  selfTest,
  type AesGcmImplementation,
} from '../../../src/crypto/aes-gcm.js';
import { DecryptionError, openAead, sealAead } from '../../../src/crypto/index.js';
import { importedWith } from '../../helpers/import-with-env.js';

const MODULE = fileURLToPath(new URL('../../../src/crypto/aes-gcm.js', import.meta.url));
/** Where `npm run build` puts the addon (dist/native), seen from dist/test/unit/crypto. */
const ADDON = fileURLToPath(new URL('../../../native/aes-gcm.node', import.meta.url));

/**
 * The addon, or a skip that says why it is absent. Where the build ran the compiler and it failed,
 * that is a defect, not a reason to skip: the test fails with the compiler's output.
 */
function addon(t: TestContext): AesGcmImplementation | undefined {
  if (nativeAesGcm) return nativeAesGcm;
  const why = aesGcmNativeAbsence ?? 'unknown';
  assert.doesNotMatch(why, /failed with exit/, `the AES-GCM addon does not compile: ${why}`);
  t.skip(`the AES-GCM addon is not in use (${why}): only Node's crypto was tested`);
  return undefined;
}

const implementations = (): [string, AesGcmImplementation][] =>
  nativeAesGcm
    ? [
        ['native', nativeAesGcm],
        ['node', nodeAesGcm],
      ]
    : [['node', nodeAesGcm]];

function sealWith(
  impl: AesGcmImplementation,
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  plain: Uint8Array,
) {
  const c = Buffer.alloc(plain.length);
  const tag = Buffer.alloc(16);
  impl.seal(key, nonce, aad, plain, c, tag);
  return { c, tag };
}

/** Imports the module in a fresh node with ARS_AES_GCM set; its provider or its error. */
const providerWith = (value: string) => importedWith(MODULE, 'aesGcmProvider', AES_GCM_PROVIDER_ENV, value);

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

describe('AES-256-GCM', () => {
  test('the provider is the addon whenever it is built', (t) => {
    if (process.env[AES_GCM_PROVIDER_ENV] === 'node') {
      t.skip(`${AES_GCM_PROVIDER_ENV}=node forces Node's crypto in this run`);
      return;
    }
    assert.equal(aesGcmProvider, nativeAesGcm ? 'native' : 'node');
    if (!nativeAesGcm) addon(t);
  });

  test('the addon gives Node crypto’s ciphertext and tag, and opens what either sealed', (t) => {
    const native = addon(t);
    if (!native) return;
    fc.assert(
      fc.property(
        bytes(32),
        bytes(12),
        fc.uint8Array({ maxLength: 600, size: 'max' }),
        fc.uint8Array({ maxLength: 3000, size: 'max' }),
        (key, nonce, aad, plain) => {
          const a = sealWith(native, key, nonce, aad, plain);
          const b = sealWith(nodeAesGcm, key, nonce, aad, plain);
          assert.deepEqual(a, b);
          for (const impl of [native, nodeAesGcm]) {
            const out = Buffer.alloc(plain.length, 0xee);
            assert.equal(impl.open(key, nonce, aad, a.c, a.tag, out), true);
            assert.deepEqual(out, Buffer.from(plain));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  test('the GCM specification’s AES-256 test case 16 (60-byte text, 20-byte associated data)', () => {
    const key = Buffer.from('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308', 'hex');
    const nonce = Buffer.from('cafebabefacedbaddecaf888', 'hex');
    const plain = Buffer.from(
      'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
      'hex',
    );
    const aad = Buffer.from('feedfacedeadbeeffeedfacedeadbeefabaddad2', 'hex');
    for (const [name, impl] of implementations()) {
      const { c, tag } = sealWith(impl, key, nonce, aad, plain);
      assert.equal(
        c.toString('hex'),
        '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
        name,
      );
      assert.equal(tag.toString('hex'), '76fc6ece0f4e1768cddf8853bb2d551b', name);
    }
  });

  test('any changed bit of key, nonce, associated data, ciphertext or tag fails to open, and leaves zeros', () => {
    for (const [name, impl] of implementations())
      fc.assert(
        fc.property(
          bytes(32),
          bytes(12),
          fc.uint8Array({ maxLength: 100 }),
          fc.uint8Array({ maxLength: 400, size: 'max' }),
          fc.constantFrom('key', 'nonce', 'aad', 'c', 'tag'),
          fc.nat(),
          fc.integer({ min: 0, max: 7 }),
          (key, nonce, aad, plain, part, at, bit) => {
            const sealed = sealWith(impl, key, nonce, aad, plain);
            const parts = {
              key: Buffer.from(key),
              nonce: Buffer.from(nonce),
              aad: Buffer.from(aad),
              ...sealed,
            };
            const target = parts[part];
            if (target.length === 0) return;
            const i = at % target.length;
            target[i] = (target[i] as number) ^ (1 << bit);
            const out = Buffer.alloc(plain.length, 0xee);
            assert.equal(impl.open(parts.key, parts.nonce, parts.aad, parts.c, parts.tag, out), false, name);
            assert.ok(
              out.every((x) => x === 0),
              `${name}: a failed open leaves zeros`,
            );
          },
        ),
        { numRuns: 300 },
      );
  });

  test('a wrong argument is a TypeError naming it, and writes nothing (both implementations)', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const plain = randomBytes(40);
    const none = Buffer.alloc(0);
    for (const [name, impl] of implementations()) {
      // every buffer the calls below may write to starts as 0xee and must stay so
      const out = Buffer.alloc(40, 0xee);
      const tag = Buffer.alloc(16, 0xee);
      const both = Buffer.alloc(60, 0xee);
      const shared = new Uint8Array(new SharedArrayBuffer(40)).fill(0xee);
      const cases: [string, () => unknown, RegExp][] = [
        ['short key', () => impl.seal(key.subarray(1), nonce, none, plain, out, tag), /key must be 32 bytes/],
        [
          'long nonce',
          () => impl.seal(key, randomBytes(16), none, plain, out, tag),
          /nonce must be 12 bytes/,
        ],
        ['short tag', () => impl.open(key, nonce, none, plain, tag.subarray(4), out), /tag must be 16 bytes/],
        ['short out', () => impl.seal(key, nonce, none, plain, out.subarray(1), tag), /out must be as long/],
        [
          'a string key',
          () => impl.seal('k'.repeat(32) as unknown as Uint8Array, nonce, none, plain, out, tag),
          /key must be a Uint8Array/,
        ],
        [
          'a Float32Array out',
          () => impl.open(key, nonce, none, plain, tag, new Float32Array(40) as unknown as Uint8Array),
          /out must be a Uint8Array/,
        ],
        [
          'an aad that is not bytes',
          () => impl.open(key, nonce, null as unknown as Uint8Array, plain, tag, out),
          /aad must be a Uint8Array/,
        ],
        [
          'out over a SharedArrayBuffer',
          () => impl.open(key, nonce, none, plain, tag, shared),
          /out must be .* \(not shared\)/,
        ],
        [
          'out overlapping the input',
          () => impl.seal(key, nonce, none, both.subarray(0, 40), both.subarray(10, 50), tag),
          /out must be the input itself or apart from it/,
        ],
        [
          'out overlapping the tag',
          () => impl.seal(key, nonce, none, plain, both.subarray(0, 40), both.subarray(30, 46)),
          /out and tag must not overlap/,
        ],
      ];
      for (const [what, call, message] of cases) {
        assert.throws(
          call,
          (e: Error) => e instanceof TypeError && message.test(e.message),
          `${name}: ${what}`,
        );
        for (const buf of [out, tag, both, shared])
          assert.ok(
            buf.every((x) => x === 0xee),
            `${name}: ${what} wrote nothing`,
          );
      }
    }
  });

  test('an addon that is not AES-256-GCM is refused as it loads', () => {
    selfTest(nodeAesGcm); // the real thing passes
    const forging: AesGcmImplementation = { ...nodeAesGcm, open: () => true };
    assert.throws(() => selfTest(forging), /opens a forged tag/);
    const wrong: AesGcmImplementation = {
      ...nodeAesGcm,
      seal: (key, nonce, aad, plain, out, tag) => {
        nodeAesGcm.seal(key, nonce, aad, plain, out, tag);
        tag[15] = (tag[15] as number) ^ 1;
      },
    };
    assert.throws(() => selfTest(wrong), /fails the GCM test vector/);
    assert.throws(() => selfTest({} as AesGcmImplementation), /does not export seal and open/);
  });

  test('the addon encrypts in place (out is the plaintext itself)', (t) => {
    const native = addon(t);
    if (!native) return;
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const plain = randomBytes(777);
    const want = sealWith(nodeAesGcm, key, nonce, Buffer.alloc(0), plain);
    const buf = Buffer.from(plain);
    const tag = Buffer.alloc(16);
    native.seal(key, nonce, Buffer.alloc(0), buf, buf, tag);
    assert.deepEqual({ c: buf, tag }, want);
    assert.equal(native.open(key, nonce, Buffer.alloc(0), buf, tag, buf), true);
    assert.deepEqual(buf, plain);
  });

  test('worker threads each get their own contexts: results agree while both threads encrypt', async (t) => {
    const native = addon(t);
    if (!native) return;
    const key = randomBytes(32);
    const plain = randomBytes(500);
    const rounds = 20_000;
    // both threads wait at this barrier, then seal `rounds` messages (nonces 0..rounds-1) at once
    const barrier = new Int32Array(new SharedArrayBuffer(4));
    const script = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { createHash } = require('node:crypto');
      import(workerData.module).then(({ nativeAesGcm }) => {
        const h = createHash('sha256');
        const out = Buffer.alloc(workerData.plain.length), tag = Buffer.alloc(16), nonce = Buffer.alloc(12);
        Atomics.add(workerData.barrier, 0, 1);
        Atomics.notify(workerData.barrier, 0);
        while (Atomics.load(workerData.barrier, 0) < 2) Atomics.wait(workerData.barrier, 0, 1, 10);
        for (let i = 0; i < workerData.rounds; i++) {
          nonce.writeUInt32BE(i, 8);
          nativeAesGcm.seal(workerData.key, nonce, Buffer.alloc(0), workerData.plain, out, tag);
          h.update(out).update(tag);
        }
        parentPort.postMessage(h.digest('hex'));
      });`;
    const { createHash } = await import('node:crypto');
    const digestHere = (impl: AesGcmImplementation): string => {
      const h = createHash('sha256');
      const nonce = Buffer.alloc(12);
      for (let i = 0; i < rounds; i++) {
        nonce.writeUInt32BE(i, 8);
        const { c, tag } = sealWith(impl, key, nonce, Buffer.alloc(0), plain);
        h.update(c).update(tag);
      }
      return h.digest('hex');
    };
    const worker = new Worker(script, {
      eval: true,
      workerData: { module: MODULE, key, plain, rounds, barrier },
    });
    const fromWorker = new Promise<string>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    // wait until the worker has loaded the addon and stands at the barrier, then both go
    while (Atomics.load(barrier, 0) < 1) await new Promise((r) => setTimeout(r, 1));
    Atomics.add(barrier, 0, 1);
    Atomics.notify(barrier, 0);
    const here = digestHere(native);
    const there = await fromWorker;
    await worker.terminate();
    const want = digestHere(nodeAesGcm);
    assert.equal(here, want);
    assert.equal(there, want);
  });

  test('sealAead/openAead: ciphertext ‖ tag, opened by Node crypto; a changed byte is a DecryptionError', () => {
    const key = randomBytes(32);
    const aad = Buffer.from('header');
    const plain = Buffer.from('the message');
    const { nonce, ciphertext } = sealAead(key, plain, aad);
    assert.equal(ciphertext.length, plain.length + 16);
    const out = Buffer.alloc(plain.length);
    assert.equal(
      nodeAesGcm.open(key, nonce, aad, ciphertext.subarray(0, -16), ciphertext.subarray(-16), out),
      true,
    );
    assert.deepEqual(out, plain);
    assert.deepEqual(openAead(key, nonce, ciphertext, aad), plain);
    for (let i = 0; i < ciphertext.length; i++) {
      const changed = Buffer.from(ciphertext);
      changed[i] = (changed[i] as number) ^ 0x01;
      assert.throws(() => openAead(key, nonce, changed, aad), DecryptionError);
    }
    assert.throws(
      () => openAead(key, nonce, ciphertext),
      DecryptionError,
      'the associated data is authenticated',
    );
  });

  test(`${AES_GCM_PROVIDER_ENV} chooses the provider; an unknown value or an addon that cannot load is a clear error`, (t) => {
    const auto = existsSync(ADDON) ? 'native' : 'node';
    assert.deepEqual(providerWith('node'), { provider: 'node' });
    assert.deepEqual(providerWith('auto'), { provider: auto });
    assert.deepEqual(providerWith(''), { provider: auto });
    assert.deepEqual(providerWith('openssl'), {
      error: `AesGcmProviderError: ${AES_GCM_PROVIDER_ENV}='openssl' is unknown; use auto, native or node (or leave it unset)`,
    });
    if (auto === 'native') assert.deepEqual(providerWith('native'), { provider: 'native' });
    else {
      assert.match(
        providerWith('native').error ?? '',
        /^AesGcmProviderError: ARS_AES_GCM=native, but the AES-GCM addon does not load/,
      );
      t.diagnostic('the AES-GCM addon is not built here: only the error for ARS_AES_GCM=native was checked');
    }
  });
});
