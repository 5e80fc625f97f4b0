import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { FRAME_SIGNED_BYTES } from '../../../src/bus/frame.js';
import { SignatureMemo } from '../../../src/bus/signature-memo.js';

const pair = (): [Buffer, Buffer] => [randomBytes(64), randomBytes(FRAME_SIGNED_BYTES)];

describe('signature memo: vouches only for exactly a pair it was given', () => {
  test('a remembered pair is vouched for; an empty memo vouches for nothing', () => {
    const m = new SignatureMemo(16);
    const [s, b] = pair();
    assert.equal(m.vouches(s, b), false);
    m.remember(s, b);
    assert.equal(m.vouches(Buffer.from(s), Buffer.from(b)), true, 'by content, not by identity');
  });

  test('any changed byte of the signature or of the signed bytes misses (property)', () => {
    const m = new SignatureMemo(16);
    const [s, b] = pair();
    m.remember(s, b);
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.nat({ max: 64 + FRAME_SIGNED_BYTES - 1 }),
        fc.integer({ min: 1, max: 255 }),
        (inSig, at, flip) => {
          const s2 = Buffer.from(s);
          const b2 = Buffer.from(b);
          const [buf, i] = inSig ? [s2, at % 64] : [b2, at % FRAME_SIGNED_BYTES];
          buf[i] = (buf[i] as number) ^ flip;
          return !m.vouches(s2, b2);
        },
      ),
    );
    assert.equal(m.vouches(s, b.subarray(1)), false, 'wrong length');
    assert.equal(m.vouches(s.subarray(0, 63), b), false, 'wrong length');
  });

  test('the oldest pairs are forgotten once the ring is full; a clash of the first 4 bytes only misses', () => {
    const m = new SignatureMemo(4);
    const pairs = Array.from({ length: 6 }, pair);
    for (const [s, b] of pairs) m.remember(s, b);
    assert.deepEqual(
      pairs.map(([s, b]) => m.vouches(s, b)),
      [false, false, true, true, true, true],
    );
    const [s, b] = pair();
    const twin = Buffer.from(randomBytes(64));
    s.copy(twin, 0, 0, 4); // same map key, different signature
    m.remember(s, b);
    assert.equal(m.vouches(twin, b), false, 'the clash is compared in full');
    m.remember(twin, b);
    assert.equal(m.vouches(twin, b), true);
    assert.equal(m.vouches(s, b), false, 'the newer pair took the key: a miss, never a false yes');
  });
});
