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
  // the delivery level and kind are constants (an unknown one is refused by writeEnvelopeHeader)
  const dl = DL_FIELD.get(h.delivery);
  const kind = KIND_FIELD.get(h.kind);
  return (
    FIXED +
    (h.corr === null ? 0 : 4 + strLen('corr', h.corr)) +
    (dl === undefined ? 4 + strLen('dl', h.delivery) : dl.length - NAME.dl.length - 1) +
    4 +
    strLen('id', h.id) +
    (kind === undefined ? 4 + strLen('kind', h.kind) : kind.length - NAME.kind.length - 1) +
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
  if (len <= 16) {
    // short ASCII strings (agent ids, topics) are written by hand: cheaper than a native call
    let i = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      out[at + 4 + i] = c;
      i++;
    }
    if (i === len) {
      putU32(out, at, len);
      return at + 4 + len;
    }
  }
  const n = out.write(s, at + 4, 'utf8');
  putU32(out, at, n);
  return at + 4 + n;
}
/** A u32, big-endian (the caller sized `out`). */
export function putU32(out: Buffer, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}
/** A big-endian u32 (the caller checked the bounds). */
function getU32(buf: Buffer, at: number): number {
  return (
    (buf[at] as number) * 0x1000000 +
    (((buf[at + 1] as number) << 16) | ((buf[at + 2] as number) << 8) | (buf[at + 3] as number))
  );
}
/** A safe integer as a signed 64-bit big-endian value. */
export function putInt(out: Buffer, at: number, v: number): number {
  const hi = Math.floor(v / TWO32);
  putU32(out, at, hi >>> 0);
  putU32(out, at + 4, v - hi * TWO32);
  return at + 8;
}
/** Copies a short constant (a field name with its tag) byte by byte: cheaper than a native call. */
function putConst(out: Buffer, at: number, bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; i++) out[at + i] = bytes[i] as number;
  return at + n;
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
/** A field name with its u16 length prefix and the type tag. */
const nameTag = (name: Buffer, tag: number): Buffer => Buffer.concat([name, Buffer.from([tag])]);
const CORR_NULL = nameTag(NAME.corr, TAG_NULL);
const ID_NAME = nameTag(NAME.id, TAG_STRING);
const LEN_NAME = nameTag(NAME.len, TAG_INT);
const TO_NAME = nameTag(NAME.to, TAG_STRING);
const TS_NAME = nameTag(NAME.ts, TAG_INT);
const TTL_NAME = nameTag(NAME.ttl, TAG_INT);
/**
 * What precedes the id when there is no correlation id, per delivery level (version, count, corr
 * null, dl, the id's name), and what follows it up to the len value, per kind: one copy each.
 */
const PREFIX_NO_CORR = new Map(
  DELIVERY_LEVELS.map((d) => [d, Buffer.concat([HEAD, CORR_NULL, DL_FIELD.get(d) as Buffer, ID_NAME])]),
);
const AFTER_ID = new Map(
  MESSAGE_KINDS.map((k) => [k, Buffer.concat([KIND_FIELD.get(k) as Buffer, LEN_NAME])]),
);

/** Writes the canonical header at `at` (the caller sized `out` with envelopeHeaderSize); returns the end. */
export function writeEnvelopeHeader(out: Buffer, at: number, h: EnvelopeHeader): number {
  const afterId = AFTER_ID.get(h.kind);
  const dl = DL_FIELD.get(h.delivery);
  if (dl === undefined || afterId === undefined)
    throw new CanonicalEncodingError(`envelope kind '${h.kind}' or delivery '${h.delivery}' is unknown`);
  if (h.corr === null) {
    const prefix = PREFIX_NO_CORR.get(h.delivery) as Buffer;
    out.set(prefix, at);
    at += prefix.length;
  } else {
    at = putConst(out, at, HEAD);
    at = putStr(out, putName(out, at, NAME.corr, TAG_STRING), h.corr);
    out.set(dl, at);
    at = putConst(out, at + dl.length, ID_NAME);
  }
  at = putStr(out, at, h.id);
  out.set(afterId, at);
  at = putInt(out, at + afterId.length, h.len);
  at = putStr(out, putConst(out, at, TO_NAME), h.to);
  at = putInt(out, putConst(out, at, TS_NAME), h.ts);
  return putInt(out, putConst(out, at, TTL_NAME), h.ttl);
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
    const n = getU32(this.buf, this.at);
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
  /** The last string {@link strRepeated} returned: the recipients of a frame's messages are mostly one. */
  private last = '';
  /** Like {@link str}, but returns the previous answer (no new string) when the bytes are the same ASCII. */
  strRepeated(name: Buffer): string {
    if (this.name(name) !== TAG_STRING) this.fail('expected a string');
    const { buf, last } = this;
    const start = this.bytes();
    const n = this.at - start;
    if (n === last.length) {
      // only an ASCII string is its own UTF-8 encoding: a char of 0x80 or above never matches
      let i = 0;
      while (i < n) {
        const c = last.charCodeAt(i);
        if (c >= 0x80 || buf[start + i] !== c) break;
        i++;
      }
      if (i === n) return last;
    }
    this.last = this.utf8(start, this.at);
    return this.last;
  }
  strValue(): string {
    const start = this.bytes();
    return this.utf8(start, this.at);
  }
  /** The UTF-8 string in `buf` between `start` and `end`; malformed UTF-8 fails. */
  private utf8(start: number, end: number): string {
    const { buf } = this;
    const s = buf.toString('utf8', start, end);
    // a replacement character means malformed UTF-8 (or a genuine U+FFFD): let the strict decoder judge
    if (!s.includes('\uFFFD')) return s;
    try {
      return utf8Strict.decode(buf.subarray(start, end));
    } catch {
      return this.fail('malformed UTF-8');
    }
  }
  int(name: Buffer): number {
    const { buf } = this;
    if (this.name(name) !== TAG_INT) this.fail('expected an integer');
    if (this.at + 8 > this.end) this.fail('truncated');
    const hi = getU32(buf, this.at) | 0;
    const lo = getU32(buf, this.at + 4);
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
  const to = r.strRepeated(NAME.to);
  const ts = r.int(NAME.ts);
  const ttl = r.int(NAME.ttl);
  if (r.at !== end) r.fail('trailing bytes');
  if (len < 0 || ttl < 0) r.fail('len and ttl must not be negative');
  return { id, kind, to, ts, ttl, delivery, corr, len };
}
