import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  CanonicalEncodingError,
  decodeCanonical,
  encodeCanonical,
  type CanonicalValue,
} from '../../../src/crypto/index.js';

const value: fc.Arbitrary<CanonicalValue> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.maxSafeInteger(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)),
  fc.array(
    fc.uint8Array({ maxLength: 16 }).map((u) => Buffer.from(u)),
    { maxLength: 5 },
  ),
);
const record = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__'),
  value,
  { maxKeys: 12 },
);

describe('canonical encoding (property-based)', () => {
  test('decode(encode(r)) equals r', () => {
    fc.assert(
      fc.property(record, (r) => {
        assert.deepStrictEqual(decodeCanonical(encodeCanonical(r)), { ...r });
      }),
      { numRuns: 500 },
    );
  });

  test('key order does not change the bytes', () => {
    fc.assert(
      fc.property(record, (r) => {
        const reversed = Object.fromEntries(Object.entries(r).reverse());
        assert.ok(encodeCanonical(r).equals(encodeCanonical(reversed)));
      }),
    );
  });

  test('changing any one field changes the signed bytes', () => {
    fc.assert(
      fc.property(
        record.filter((r) => Object.keys(r).length > 0),
        fc.nat(),
        value,
        (r, pick, replacement) => {
          const keys = Object.keys(r);
          const k = keys[pick % keys.length] as string;
          fc.pre(!sameValue(r[k] as CanonicalValue, replacement));
          const changed = { ...r, [k]: replacement };
          assert.ok(!encodeCanonical(r).equals(encodeCanonical(changed)));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('adding, removing or renaming a field changes the bytes', () => {
    fc.assert(
      fc.property(record, fc.string({ minLength: 1, maxLength: 12 }), value, (r, extra, v) => {
        fc.pre(!(extra in r) && extra !== '__proto__');
        assert.ok(!encodeCanonical(r).equals(encodeCanonical({ ...r, [extra]: v })));
      }),
    );
  });

  test('rejects truncated, trailing and unsorted input', () => {
    const bytes = encodeCanonical({ a: 'x', b: 1 });
    assert.throws(
      () => decodeCanonical(bytes.subarray(0, bytes.length - 1)),
      (e: unknown) => e instanceof CanonicalEncodingError && /truncated/.test(e.message),
    );
    assert.throws(
      () => decodeCanonical(Buffer.concat([bytes, Buffer.from([0])])),
      (e: unknown) => e instanceof CanonicalEncodingError && /trailing/.test(e.message),
    );
    assert.throws(
      () => encodeCanonical({ n: 1.5 }),
      (e: unknown) =>
        e instanceof CanonicalEncodingError &&
        e.code === 'ARS_CANONICAL_ENCODING' &&
        /safe integer/.test(e.message),
    );
  });
});

function sameValue(a: CanonicalValue, b: CanonicalValue): boolean {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return Buffer.compare(a, b) === 0;
  if (Array.isArray(a) && Array.isArray(b))
    return (
      a.length === b.length &&
      (a as readonly Uint8Array[]).every((x, i) => Buffer.compare(x, b[i] as Uint8Array) === 0)
    );
  return Object.is(a, b) || (typeof a === 'number' && a === b);
}
