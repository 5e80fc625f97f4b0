import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  checkSendFailClosed,
  compileBusOptions,
  decodeEnvelopeHeader,
  decodeFrameHeader,
  encodeEnvelopeHeader,
  encodeFrameHeader,
  frameSignedBytes,
  type EnvelopeHeader,
  type FrameHeader,
  type SendMeta,
} from '../../../src/bus/index.js';
import { encodeFrameHeaderFrom, FrameCountError, readFrameHeader } from '../../../src/bus/frame.js';
import { ConfigError } from '../../../src/config/errors.js';
import { CanonicalEncodingError, decodeCanonical, encodeCanonical } from '../../../src/crypto/index.js';

const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 });
const envelope: fc.Arbitrary<EnvelopeHeader> = fc.record({
  id: text,
  kind: fc.constantFrom('direct', 'request', 'reply', 'topic', 'broadcast'),
  to: text,
  // the codec takes any safe integer for ts (a clock before 1970 is refused later, by the window)
  ts: fc.maxSafeInteger(),
  ttl: fc.maxSafeNat(),
  delivery: fc.constantFrom('at-most-once', 'at-least-once', 'exactly-once'),
  corr: fc.option(text),
  len: fc.nat(),
});
const FIELDS = ['id', 'kind', 'to', 'ts', 'ttl', 'delivery', 'corr', 'len'] as const;
const generic = (h: EnvelopeHeader): Buffer =>
  encodeCanonical({
    corr: h.corr,
    dl: h.delivery,
    id: h.id,
    kind: h.kind,
    len: h.len,
    to: h.to,
    ts: h.ts,
    ttl: h.ttl,
  });

/** One message header, and the frame fields around it, for the frames built by hand below. */
const ONE: EnvelopeHeader = {
  id: 'm1',
  kind: 'direct',
  to: 'b',
  ts: 1,
  ttl: 1000,
  delivery: 'at-least-once',
  corr: null,
  len: 0,
};
const FRAME = { fid: Buffer.alloc(16), from: 'a', kid: null, ekid: null, nonce: null };

describe('envelope header and frame encoding', () => {
  test('the hand-written envelope codec is the canonical encoding: same bytes, round trip, injective', () => {
    fc.assert(
      fc.property(envelope, envelope, fc.constantFrom(...FIELDS), (e, other, field) => {
        const bytes = encodeEnvelopeHeader(e);
        assert.ok(bytes.equals(generic(e)), 'byte-identical to encodeCanonical');
        assert.deepStrictEqual(decodeEnvelopeHeader(bytes), { ...e });
        const changed = { ...e, [field]: other[field] };
        fc.pre(changed[field] !== e[field]);
        assert.ok(!bytes.equals(encodeEnvelopeHeader(changed)), `changing ${field} changes the signed bytes`);
      }),
      { numRuns: 1000 },
    );
  });

  test('the envelope decoder accepts exactly canonical encodings (any corrupted byte is rejected or re-encodes identically)', () => {
    fc.assert(
      fc.property(envelope, fc.nat(), fc.integer({ min: 1, max: 255 }), (e, pos, flip) => {
        const bytes = Buffer.from(encodeEnvelopeHeader(e));
        const at = pos % bytes.length;
        bytes[at] = (bytes[at] as number) ^ flip;
        let decoded: EnvelopeHeader | undefined;
        try {
          decoded = decodeEnvelopeHeader(bytes);
        } catch (error) {
          assert.ok(error instanceof CanonicalEncodingError, String(error));
          assert.equal(error.code, 'ARS_CANONICAL_ENCODING');
          return;
        }
        // whatever it accepted is canonical: re-encoding gives the same bytes, and the generic codec agrees
        assert.ok(encodeEnvelopeHeader(decoded).equals(bytes));
        assert.doesNotThrow(() => decodeCanonical(bytes));
      }),
      { numRuns: 3000 },
    );
    assert.throws(
      () =>
        decodeEnvelopeHeader(
          Buffer.concat([
            encodeEnvelopeHeader({
              id: 'a',
              kind: 'direct',
              to: 'b',
              ts: 1,
              ttl: 1,
              delivery: 'at-least-once',
              corr: null,
              len: 0,
            }),
            Buffer.from([0]),
          ]),
        ),
      (e: unknown) => e instanceof CanonicalEncodingError && /trailing bytes/.test(e.message),
    );
  });

  const frame: fc.Arbitrary<FrameHeader> = fc.record({
    fid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
    from: text,
    kid: fc.option(text),
    ekid: fc.option(text),
    nonce: fc.option(fc.uint8Array({ minLength: 12, maxLength: 12 }).map((u) => Buffer.from(u))),
    envs: fc.array(
      envelope.map((e) => encodeEnvelopeHeader(e)),
      { maxLength: 8 },
    ),
  });

  // headers as the sender makes them: runs that share kind, recipient, delivery, ttl and corr and differ in
  // id, len and ts (ASCII ids of one length, like UUIDs), mixed with headers that break the run
  const asciiId = fc.string({ unit: fc.constantFrom(...'0123456789abcdef-'), minLength: 36, maxLength: 36 });
  const runOf = (base: EnvelopeHeader): fc.Arbitrary<EnvelopeHeader> =>
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .record({ id: asciiId, len: fc.nat(), ts: fc.maxSafeNat() })
          .map((v) => ({ ...base, ...v })),
      },
      { weight: 1, arbitrary: fc.record({ id: text }).map((v) => ({ ...base, ...v })) },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom(...FIELDS)
          .chain((field) => envelope.map((other) => ({ ...base, id: base.id, [field]: other[field] }))),
      },
      { weight: 1, arbitrary: envelope },
    );
  const batch = fc
    .tuple(envelope, asciiId)
    .chain(([e, id]) =>
      fc.array(runOf({ ...e, id }), { maxLength: 12 }).map((rest) => [{ ...e, id }, ...rest]),
    );
  const fields = fc.record({
    fid: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((u) => Buffer.from(u)),
    from: text,
    kid: fc.option(text),
    ekid: fc.option(text),
    nonce: fc.option(fc.uint8Array({ minLength: 12, maxLength: 12 }).map((u) => Buffer.from(u))),
  });

  test("the sender's frame header writer is byte for byte the generic encoding (headers in runs, as the sender makes them)", () => {
    fc.assert(
      fc.property(fields, batch, (f, headers) => {
        const fast = encodeFrameHeaderFrom(f, headers);
        const slow = encodeFrameHeader({ ...f, envs: headers.map(encodeEnvelopeHeader) });
        assert.ok(fast.equals(slow), 'byte-identical');
        const { envs } = readFrameHeader(fast);
        assert.deepStrictEqual(
          envs.map((e) => ({ ...e })),
          headers.map((h) => ({ ...h })),
        );
      }),
      { numRuns: 2000 },
    );
  });

  test('the frame decoder accepts exactly canonical frames (any corrupted byte is rejected or re-encodes identically)', () => {
    // runs of headers, so a corrupted recipient often follows an intact one of the same length (the
    // decoder reuses the previous recipient's string when the bytes are the same ASCII)
    fc.assert(
      fc.property(fields, batch, fc.nat(), fc.integer({ min: 1, max: 255 }), (f, headers, pos, flip) => {
        const bytes = Buffer.from(encodeFrameHeaderFrom(f, headers));
        const at = pos % bytes.length;
        bytes[at] = (bytes[at] as number) ^ flip;
        let read: ReturnType<typeof readFrameHeader>;
        try {
          read = readFrameHeader(bytes);
        } catch (error) {
          assert.ok(error instanceof CanonicalEncodingError, String(error));
          return;
        }
        assert.ok(encodeFrameHeaderFrom(read.fields, read.envs).equals(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  test('a header declaring more messages than allowed is refused before any message header is read', () => {
    const h = encodeFrameHeaderFrom(FRAME, [ONE, { ...ONE, id: 'm2' }, { ...ONE, id: 'm3' }]);
    // the third message header is garbage: read in full, the header is malformed
    const bad = Buffer.from(h);
    bad[bad.lastIndexOf(Buffer.from('m3'))] = 0xff;
    assert.throws(() => readFrameHeader(bad), CanonicalEncodingError);
    assert.throws(
      () => readFrameHeader(bad, 2),
      (e: unknown) => e instanceof FrameCountError && e.count === 3 && e.max === 2,
    );
    assert.equal(readFrameHeader(h, 3).envs.length, 3);
  });

  test('a recipient is reused from the message before only when its bytes are that ASCII string', () => {
    const base: EnvelopeHeader = { ...ONE, to: '\u00e9' }; // é: one UTF-16 unit (0xe9), two UTF-8 bytes
    const f = FRAME;
    // the second recipient is the one byte 0xe9 with a length of 1: the char code of the first
    // recipient, but not valid UTF-8, so it must be refused, not read as 'é'
    const good = encodeFrameHeaderFrom(f, [base, { ...base, id: 'm2', to: 'x' }]);
    const toX = Buffer.from([0, 0, 0, 1, 0x78]); // u32 length 1, 'x'
    const at = good.lastIndexOf(toX);
    assert.ok(at > 0);
    const bad = Buffer.from(good);
    bad[at + 4] = 0xe9;
    assert.throws(
      () => readFrameHeader(bad),
      (e: unknown) => e instanceof CanonicalEncodingError && /malformed UTF-8/.test(e.message),
    );
    // and an ASCII recipient repeated is read as itself
    const same = readFrameHeader(
      encodeFrameHeaderFrom(f, [
        { ...base, to: 'ab' },
        { ...base, id: 'm2', to: 'ab' },
      ]),
    );
    assert.deepEqual(
      same.envs.map((e) => e.to),
      ['ab', 'ab'],
    );
  });

  test('a header in a run is checked like any other: an unsafe ts or len throws, naming the field', () => {
    const base: EnvelopeHeader = {
      id: '0'.repeat(36),
      kind: 'direct',
      to: 'b',
      ts: 1,
      ttl: 1000,
      delivery: 'at-least-once',
      corr: null,
      len: 3,
    };
    const f = { fid: Buffer.alloc(16), from: 'a', kid: null, ekid: null, nonce: null };
    for (const bad of [{ ts: 2 ** 53 }, { len: 1.5 }]) {
      const field = Object.keys(bad)[0] as string;
      assert.throws(
        () => encodeFrameHeaderFrom(f, [base, { ...base, id: '1'.repeat(36), ...bad }]),
        (e: unknown) => e instanceof CanonicalEncodingError && e.message.includes(`'${field}'`),
      );
    }
  });

  test('frame header round trip; the signed bytes change with any header, ciphertext or tag byte', () => {
    fc.assert(
      fc.property(frame, fc.uint8Array({ maxLength: 64 }), fc.nat(), (f, body, pos) => {
        const h = encodeFrameHeader(f);
        assert.deepStrictEqual(
          { ...decodeFrameHeader(h) },
          { ...f, envs: f.envs.map((b) => Buffer.from(b)) },
        );
        const c = Buffer.from(body);
        const t = randomBytes(16);
        const signed = frameSignedBytes(h, c, t);
        // the filled-in template is byte for byte the generic canonical record
        assert.ok(
          signed.equals(
            encodeCanonical({
              v: 2,
              h: createHash('sha256').update(h).digest(),
              c: createHash('sha256').update(c).update(t).digest(),
            }),
          ),
        );
        const flip = (b: Buffer): Buffer => {
          const x = Buffer.from(b);
          const i = pos % x.length;
          x[i] = (x[i] as number) ^ 1;
          return x;
        };
        assert.ok(!signed.equals(frameSignedBytes(flip(h), c, t)));
        assert.ok(!signed.equals(frameSignedBytes(h, c, flip(t))));
        if (c.length > 0) assert.ok(!signed.equals(frameSignedBytes(h, flip(c), t)));
      }),
      { numRuns: 300 },
    );
    assert.throws(() => decodeFrameHeader(encodeCanonical({ v: 1, from: 'a' })), /not a version-2 header/);
  });
});

describe('hooks and options', () => {
  const meta: SendMeta = {
    messageId: 'm',
    kind: 'direct',
    from: 'a',
    to: 'b',
    size: 1,
    delivery: 'at-least-once',
  };
  test('a policy that throws, rejects or answers garbage is a deny (fail closed)', async () => {
    assert.equal(
      (
        await checkSendFailClosed(
          {
            checkSend: () => {
              throw new Error('boom');
            },
          },
          meta,
        )
      ).allowed,
      false,
    );
    assert.equal(
      (await checkSendFailClosed({ checkSend: () => Promise.reject(new Error('x')) }, meta)).allowed,
      false,
    );
    assert.equal(
      (await checkSendFailClosed({ checkSend: () => Promise.resolve(undefined as never) }, meta)).allowed,
      false,
    );
    assert.equal(
      (
        await checkSendFailClosed(
          { checkSend: () => Promise.resolve({ allowed: 'yes' as never, reasons: [] }) },
          meta,
        )
      ).allowed,
      false,
    );
    assert.equal(
      (await checkSendFailClosed({ checkSend: () => Promise.resolve({ allowed: true, reasons: [] }) }, meta))
        .allowed,
      true,
    );
    // a synchronous policy gets a synchronous answer (the send fast path), judged the same way
    const sync = checkSendFailClosed({ checkSend: () => ({ allowed: true, reasons: ['ok'] }) }, meta);
    assert.deepEqual(sync, { allowed: true, reasons: ['ok'] });
    assert.equal(
      (
        checkSendFailClosed({ checkSend: () => ({ allowed: 1 as never, reasons: [] }) }, meta) as {
          allowed: boolean;
        }
      ).allowed,
      false,
    );
  });

  test('bus options: defaults and named errors', () => {
    assert.equal(compileBusOptions().maxMessageBytes, 262_144);
    assert.equal(compileBusOptions().maxFrameBytes, 1_048_576);
    assert.throws(
      () => compileBusOptions({ security: 'maybe' as never }),
      (e: unknown) => e instanceof ConfigError && /security: 'maybe' is not allowed/.test(e.message),
    );
    assert.throws(
      () => compileBusOptions({ defaultTtlMs: 10, maxTtlMs: 5 }),
      (e: unknown) => e instanceof ConfigError && /defaultTtlMs must not exceed maxTtlMs/.test(e.message),
    );
    assert.equal(compileBusOptions().handlerRetryMs, 100);
    assert.throws(
      () => compileBusOptions({ handlerRetryMs: 10_000, handlerRetryMaxMs: 1000 }),
      (e: unknown) =>
        e instanceof ConfigError && /handlerRetryMs must not exceed handlerRetryMaxMs/.test(e.message),
    );
    assert.throws(
      () => compileBusOptions({ handlerRetryMs: -1 }),
      (e: unknown) => e instanceof ConfigError && /handlerRetryMs/.test(e.message),
    );
  });
});
