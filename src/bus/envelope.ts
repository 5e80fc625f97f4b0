import { CanonicalEncodingError } from '../crypto/index.js';

/** How hard the bus tries: at most once, at least once (acks, redelivery), exactly once (plus dedup). */
export type DeliveryLevel = 'at-most-once' | 'at-least-once' | 'exactly-once';
export const DELIVERY_LEVELS: readonly DeliveryLevel[] = ['at-most-once', 'at-least-once', 'exactly-once'];

export type MessageKind = 'direct' | 'request' | 'reply' | 'topic' | 'broadcast';
export const MESSAGE_KINDS: readonly MessageKind[] = ['direct', 'request', 'reply', 'topic', 'broadcast'];

/**
 * The per-message header fields of an envelope. The sender, the key ids and the nonce are frame
 * fields (one sender, one key, one AES-GCM seal per frame, see frame.ts). Every field here is listed
 * in the signed frame header and is part of the AES-GCM additional authenticated data.
 */
export interface EnvelopeHeader {
  readonly id: string;
  readonly kind: MessageKind;
  /** Agent id (direct/request/reply), topic (topic) or '*' (broadcast). */
  readonly to: string;
  /** Send time, ms since the epoch. */
  readonly ts: number;
  readonly ttl: number;
  readonly delivery: DeliveryLevel;
  /** Request id this message answers (reply) or correlates (request), or null. */
  readonly corr: string | null;
  /** Length in bytes of this message's body inside the frame's body. */
  readonly len: number;
}

/*
 * The canonical encoding (src/crypto/canonical.ts) of the record
 * {corr, dl, id, kind, len, to, ts, ttl}, written and read by hand because it runs once per message:
 * version byte 1, u32 field count 8, then per field in byte order of its name: u16 name length, name,
 * type tag, value. `encodeEnvelopeHeader(h)` equals `encodeCanonical({...})` byte for byte, and
 * `decodeEnvelopeHeader` accepts exactly the canonical encodings of valid headers
 * (both are property-tested against the generic codec).
 */
export const TAG_NULL = 0;
export const TAG_INT = 3;
export const TAG_STRING = 4;
export const TAG_BYTES = 5;
export const TAG_LIST = 6;
const FIELD_NAMES = ['corr', 'dl', 'id', 'kind', 'len', 'to', 'ts', 'ttl'] as const;
/** A field name with its u16 length prefix, as the canonical encoding writes it. */
export function fieldName(n: string): Buffer {
  const b = Buffer.alloc(2 + n.length);
  b.writeUInt16BE(n.length, 0);
  b.write(n, 2, 'latin1');
  return b;
}
const NAME = Object.fromEntries(FIELD_NAMES.map((n) => [n, fieldName(n)])) as Record<
  (typeof FIELD_NAMES)[number],
  Buffer
>;
/** Bytes of the fixed part: version, count, the 8 names with their length prefixes and tags. */
const FIXED = 5 + FIELD_NAMES.reduce((n, f) => n + 2 + f.length + 1, 0);
const TWO32 = 2 ** 32;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function strLen(field: string, s: string): number {
  if (typeof s !== 'string')
    throw new CanonicalEncodingError(`envelope field '${field}' must be a string`, field);
  const n = Buffer.byteLength(s, 'utf8');
  // every UTF-16 code unit ≤ 0x7f is one byte: only then can a lone surrogate not be present
  if (n !== s.length && LONE_SURROGATE.test(s))
    throw new CanonicalEncodingError(`envelope field '${field}' holds a lone UTF-16 surrogate`, field);
  return n;
}

function checkInt(field: string, v: number): void {
  if (!Number.isSafeInteger(v))
    throw new CanonicalEncodingError(`envelope field '${field}' must be a safe integer, got ${v}`, field);
}

/** The exact size of {@link encodeEnvelopeHeader}'s output. */
export function envelopeHeaderSize(h: EnvelopeHeader): number {
  checkInt('ts', h.ts);
  checkInt('ttl', h.ttl);
  checkInt('len', h.len);
  return (
    FIXED +
    (h.corr === null ? 0 : 4 + strLen('corr', h.corr)) +
    4 +
    strLen('dl', h.delivery) +
    4 +
    strLen('id', h.id) +
    4 +
    strLen('kind', h.kind) +
    8 +
    4 +
    strLen('to', h.to) +
    8 +
    8
  );
}

export function putName(out: Buffer, at: number, name: Buffer, tag: number): number {
  out.set(name, at);
  at += name.length;
  out[at] = tag;
  return at + 1;
}
export function putStr(out: Buffer, at: number, s: string): number {
  const len = s.length;
  if (len <= 64) {
    // short ASCII strings (ids, agent ids, topics) are written by hand: cheaper than a native call
    let i = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[at + 4 + i] = c;
      i++;
    }
    if (i === len) {
      out.writeUInt32BE(len, at);
      return at + 4 + len;
    }
  }
  const n = out.write(s, at + 4, 'utf8');
  out.writeUInt32BE(n, at);
  return at + 4 + n;
}
export function putInt(out: Buffer, at: number, v: number): number {
  const hi = Math.floor(v / TWO32);
  out.writeInt32BE(hi, at);
  out.writeUInt32BE(v - hi * TWO32, at + 4);
  return at + 8;
}

/** The complete encoding of a string field whose value is one of a few constants. */
function constantField(name: Buffer, value: string): Buffer {
  const b = Buffer.alloc(name.length + 1 + 4 + value.length);
  putStr(b, putName(b, 0, name, TAG_STRING), value);
  return b;
}
const DL_FIELD = new Map(DELIVERY_LEVELS.map((d) => [d, constantField(NAME.dl, d)]));
const KIND_FIELD = new Map(MESSAGE_KINDS.map((k) => [k, constantField(NAME.kind, k)]));
const HEAD = Buffer.from([1, 0, 0, 0, 8]);
const CORR_NULL = Buffer.concat([NAME.corr, Buffer.from([TAG_NULL])]);

/** Writes the canonical header at `at` (the caller sized `out` with envelopeHeaderSize); returns the end. */
export function writeEnvelopeHeader(out: Buffer, at: number, h: EnvelopeHeader): number {
  const dl = DL_FIELD.get(h.delivery);
  const kind = KIND_FIELD.get(h.kind);
  if (dl === undefined || kind === undefined)
    throw new CanonicalEncodingError(`envelope kind '${h.kind}' or delivery '${h.delivery}' is unknown`);
  out.set(HEAD, at);
  at += 5;
  if (h.corr === null) {
    out.set(CORR_NULL, at);
    at += CORR_NULL.length;
  } else at = putStr(out, putName(out, at, NAME.corr, TAG_STRING), h.corr);
  out.set(dl, at);
  at += dl.length;
  at = putStr(out, putName(out, at, NAME.id, TAG_STRING), h.id);
  out.set(kind, at);
  at += kind.length;
  at = putInt(out, putName(out, at, NAME.len, TAG_INT), h.len);
  at = putStr(out, putName(out, at, NAME.to, TAG_STRING), h.to);
  at = putInt(out, putName(out, at, NAME.ts, TAG_INT), h.ts);
  return putInt(out, putName(out, at, NAME.ttl, TAG_INT), h.ttl);
}

/** The canonical encoding of an envelope header (what the frame header lists and signs). */
export function encodeEnvelopeHeader(h: EnvelopeHeader): Buffer {
  const out = Buffer.allocUnsafe(envelopeHeaderSize(h));
  writeEnvelopeHeader(out, 0, h);
  return out;
}

/** A cursor over canonical bytes, ending at `end`; shared by the envelope and frame header codecs. */
export class CanonicalReader {
  at = 0;
  end = 0;
  constructor(public buf: Buffer) {
    this.end = buf.length;
  }
  fail(what: string): never {
    throw new CanonicalEncodingError(`${what} at byte ${this.at}`);
  }
  /** Reads the expected field name (with its length prefix) and returns the type tag. */
  name(name: Buffer): number {
    const { buf } = this;
    const n = name.length;
    const at = this.at;
    if (at + n + 1 > this.end) this.fail('truncated');
    for (let i = 0; i < n; i++)
      if (buf[at + i] !== name[i]) this.fail(`expected field '${name.toString('latin1', 2)}'`);
    this.at = at + n + 1;
    return buf[at + n] as number;
  }
  /** Reads a u32 length-prefixed byte string; returns its start (the end is `this.at`). */
  bytes(): number {
    if (this.at + 4 > this.end) this.fail('truncated');
    const n = this.buf.readUInt32BE(this.at);
    const start = this.at + 4;
    if (start + n > this.end) this.fail('truncated');
    this.at = start + n;
    return start;
  }
  /** Reads a string the value must be one of (no allocation: returns the constant). */
  oneOf<T extends string>(name: Buffer, values: readonly T[], what: string): T {
    if (this.name(name) !== TAG_STRING) this.fail('expected a string');
    const start = this.bytes();
    const n = this.at - start;
    const { buf } = this;
    const first = buf[start];
    for (let k = 0; k < values.length; k++) {
      const v = values[k] as T;
      if (v.length !== n || v.charCodeAt(0) !== first) continue;
      let i = 1;
      while (i < n && buf[start + i] === v.charCodeAt(i)) i++;
      if (i === n) return v;
    }
    return this.fail(`${what} '${buf.toString('latin1', start, this.at)}' is unknown`);
  }
  str(name: Buffer): string {
    if (this.name(name) !== TAG_STRING) this.fail('expected a string');
    return this.strValue();
  }
  strValue(): string {
    const { buf } = this;
    const start = this.bytes();
    const n = this.at - start;
    const s = buf.toString('utf8', start, start + n);
    // a replacement character means malformed UTF-8 (or a genuine U+FFFD): let the strict decoder judge
    if (!s.includes('\uFFFD')) return s;
    try {
      return utf8Strict.decode(buf.subarray(start, start + n));
    } catch {
      return this.fail('malformed UTF-8');
    }
  }
  int(name: Buffer): number {
    const { buf } = this;
    if (this.name(name) !== TAG_INT) this.fail('expected an integer');
    if (this.at + 8 > this.end) this.fail('truncated');
    const hi = buf.readInt32BE(this.at);
    const lo = buf.readUInt32BE(this.at + 4);
    if (hi > 0x1fffff || hi < -0x200000 || (hi === -0x200000 && lo === 0))
      this.fail('integer out of the safe range');
    this.at += 8;
    return hi * TWO32 + lo;
  }
}

/** Decodes a canonical envelope header; throws CanonicalEncodingError on anything else. */
export function decodeEnvelopeHeader(bytes: Uint8Array): EnvelopeHeader {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readEnvelopeHeader(new CanonicalReader(buf), 0, buf.length);
}

/** Decodes the envelope header in `r.buf` between `start` and `end`. */
export function readEnvelopeHeader(r: CanonicalReader, start: number, end: number): EnvelopeHeader {
  const { buf } = r;
  r.at = start;
  r.end = end;
  if (end - start < FIXED || buf[start] !== 1 || buf.readUInt32BE(start + 1) !== 8)
    r.fail('envelope header: not a version-1 record of 8 fields');
  r.at = start + 5;
  const corrTag = r.name(NAME.corr);
  let corr: string | null = null;
  if (corrTag === TAG_STRING) corr = r.strValue();
  else if (corrTag !== TAG_NULL) r.fail("field 'corr' must be a string or null");
  const delivery = r.oneOf(NAME.dl, DELIVERY_LEVELS, 'delivery level');
  const id = r.str(NAME.id);
  const kind = r.oneOf(NAME.kind, MESSAGE_KINDS, 'kind');
  const len = r.int(NAME.len);
  const to = r.str(NAME.to);
  const ts = r.int(NAME.ts);
  const ttl = r.int(NAME.ttl);
  if (r.at !== end) r.fail('trailing bytes');
  if (len < 0 || ttl < 0) r.fail('len and ttl must not be negative');
  return { id, kind, to, ts, ttl, delivery, corr, len };
}
