import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SHA256_BYTES, sha256Into } from '../../../src/crypto/index.js';

const nodeSha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('sha256Into', () => {
  test('writes SHA-256(a ‖ b) at the offset, byte-equal to Node crypto, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048, size: 'max' }),
        fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }),
        fc.nat({ max: 40 }),
        (a, b, at) => {
          const out = Buffer.alloc(at + SHA256_BYTES + 7, 0xee);
          sha256Into(out, at, a, b);
          const want = b === undefined ? nodeSha256(a) : nodeSha256(a, b);
          assert.deepEqual(out.subarray(at, at + SHA256_BYTES), want);
          // the bytes around the digest are untouched
          assert.ok(out.subarray(0, at).every((x) => x === 0xee));
          assert.ok(out.subarray(at + SHA256_BYTES).every((x) => x === 0xee));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('two parts hash as their concatenation (the frame signature covers SHA-256(c ‖ t))', () => {
    const c = Buffer.from('ciphertext bytes');
    const t = Buffer.from('0123456789abcdef');
    const split = Buffer.alloc(SHA256_BYTES);
    const whole = Buffer.alloc(SHA256_BYTES);
    sha256Into(split, 0, c, t);
    sha256Into(whole, 0, Buffer.concat([c, t]));
    assert.deepEqual(split, whole);
    // the known digest of the empty input
    const empty = Buffer.alloc(SHA256_BYTES);
    sha256Into(empty, 0, new Uint8Array(0));
    assert.equal(empty.toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  test('a digest that does not fit is a RangeError, and the buffer is unchanged', () => {
    const out = Buffer.alloc(40, 1);
    assert.throws(() => sha256Into(out, 9, Buffer.from('x')), RangeError);
    assert.throws(() => sha256Into(out, -1, Buffer.from('x')), RangeError);
    assert.ok(out.every((x) => x === 1));
  });

  test('inputs on both sides of the one-shot limit give the same digests as createHash', () => {
    for (const [na, nb] of [
      [0, 0],
      [8000, 192],
      [8000, 193],
      [8192, 0],
      [9000, 16],
      [300_000, 16],
    ] as const) {
      const a = Buffer.alloc(na, 7);
      const b = Buffer.alloc(nb, 9);
      const out = Buffer.alloc(SHA256_BYTES);
      sha256Into(out, 0, a, b);
      assert.deepEqual(out, nodeSha256(a, b), `${na} + ${nb} bytes`);
    }
  });
});
