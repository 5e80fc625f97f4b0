import { decodeCanonical, encodeCanonical, sha256Into } from '../crypto/index.js';
import {
  CanonicalReader,
  envelopeHeaderSize,
  fieldName,
  putInt,
  putName,
  putStr,
  readEnvelopeHeader,
  strLen,
  TAG_BYTES,
  TAG_INT,
  TAG_LIST,
  TAG_NULL,
  TAG_STRING,
  writeEnvelopeHeader,
  type EnvelopeHeader,
} from './envelope.js';

/**
 * A frame is one stream entry carrying N messages from one sender to one stream (see docs/bus.md).
 *
 * Stream entry fields:
 * - `h` the frame header, canonical record `{v: 2, fid, from, kid, ekid, nonce, envs}`: a random
 *   16-byte frame id, the sender, its signing key id, the encryption key id, the AES-GCM nonce, and
 *   `envs`, the canonical encoding of every message's header (envelope.ts) in order;
 * - `c` the bodies of all messages concatenated in order: AES-256-GCM ciphertext under (ekid, nonce)
 *   with `h` as additional authenticated data, or the plaintext when security is off;
 * - `t` the 16-byte GCM tag (empty when security is off);
 * - `s` the Ed25519 signature by `kid` over {@link frameSignedBytes} = the canonical record
 *   `{v: 2, h: SHA-256(h), c: SHA-256(c ‖ t)}` (empty when security is off);
 * - `only` (dead-letter replays only) the index of the one message of the frame to process.
 */
export interface FrameHeader {
  /** 16 random bytes naming the frame; the replay window remembers it. */
  readonly fid: Buffer;
  readonly from: string;
  /** Sender's signing key id, or null when security is off. */
  readonly kid: string | null;
  /** Encryption key id, or null when security is off. */
  readonly ekid: string | null;
  /** AES-GCM nonce (96 bits, fresh per frame), or null when security is off. */
  readonly nonce: Buffer | null;
  /** The canonical encoding of each message's header. */
  readonly envs: readonly Uint8Array[];
}

export const FRAME_VERSION = 2;
export const FRAME_ID_BYTES = 16;

export function encodeFrameHeader(h: FrameHeader): Buffer {
  return encodeCanonical({
    v: FRAME_VERSION,
    fid: h.fid,
    from: h.from,
    kid: h.kid,
    ekid: h.ekid,
    nonce: h.nonce,
    envs: h.envs,
  });
}

const FIELDS = 'ekid,envs,fid,from,kid,nonce,v';

export function decodeFrameHeader(bytes: Uint8Array): FrameHeader {
  const r = decodeCanonical(bytes);
  if (Object.keys(r).sort().join(',') !== FIELDS || r.v !== FRAME_VERSION)
    throw new TypeError(`frame header is not a version-${FRAME_VERSION} header`);
  const { fid, from, kid, ekid, nonce, envs } = r;
  if (!(fid instanceof Uint8Array) || fid.length !== FRAME_ID_BYTES)
    throw new TypeError('frame id is malformed');
  if (typeof from !== 'string') throw new TypeError('frame sender is malformed');
  if (!(kid === null || typeof kid === 'string') || !(ekid === null || typeof ekid === 'string'))
    throw new TypeError('frame key ids are malformed');
  if (!(nonce === null || (nonce instanceof Uint8Array && nonce.length === 12)))
    throw new TypeError('frame nonce is malformed');
  if (!Array.isArray(envs)) throw new TypeError('frame envelope list is malformed');
  return {
    fid: Buffer.from(fid),
    from,
    kid,
    ekid,
    nonce: nonce === null ? null : Buffer.from(nonce),
    envs: envs as Uint8Array[],
  };
}

/** The frame-level fields of a header (everything but the message headers). */
export type FrameFields = Omit<FrameHeader, 'envs'>;

const N = {
  ekid: fieldName('ekid'),
  envs: fieldName('envs'),
  fid: fieldName('fid'),
  from: fieldName('from'),
  kid: fieldName('kid'),
  nonce: fieldName('nonce'),
  v: fieldName('v'),
};

function optStrSize(name: Buffer, field: string, v: string | null): number {
  return name.length + 1 + (v === null ? 0 : 4 + strLen(field, v));
}
function putOptStr(out: Buffer, at: number, name: Buffer, v: string | null): number {
  if (v === null) return putName(out, at, name, TAG_NULL);
  return putStr(out, putName(out, at, name, TAG_STRING), v);
}
function putBytes(out: Buffer, at: number, name: Buffer, v: Uint8Array): number {
  at = putName(out, at, name, TAG_BYTES);
  out.writeUInt32BE(v.length, at);
  out.set(v, at + 4);
  return at + 4 + v.length;
}

/**
 * The sender's fast path: the same bytes as `encodeFrameHeader({...fields, envs: headers.map(
 * encodeEnvelopeHeader)})`, written into one buffer without intermediate copies.
 */
export function encodeFrameHeaderFrom(f: FrameFields, headers: readonly EnvelopeHeader[]): Buffer {
  let size = 5 + optStrSize(N.ekid, 'ekid', f.ekid) + N.envs.length + 1 + 4;
  for (const h of headers) size += 4 + envelopeHeaderSize(h);
  size += N.fid.length + 1 + 4 + f.fid.length;
  size += N.from.length + 1 + 4 + strLen('from', f.from);
  size += optStrSize(N.kid, 'kid', f.kid);
  size += N.nonce.length + 1 + (f.nonce === null ? 0 : 4 + f.nonce.length);
  size += N.v.length + 1 + 8;
  const out = Buffer.allocUnsafe(size);
  out[0] = 1;
  out.writeUInt32BE(7, 1);
  let at = putOptStr(out, 5, N.ekid, f.ekid);
  at = putName(out, at, N.envs, TAG_LIST);
  out.writeUInt32BE(headers.length, at);
  at += 4;
  for (const h of headers) {
    const end = writeEnvelopeHeader(out, at + 4, h);
    out.writeUInt32BE(end - at - 4, at);
    at = end;
  }
  at = putBytes(out, at, N.fid, f.fid);
  at = putStr(out, putName(out, at, N.from, TAG_STRING), f.from);
  at = putOptStr(out, at, N.kid, f.kid);
  at = f.nonce === null ? putName(out, at, N.nonce, TAG_NULL) : putBytes(out, at, N.nonce, f.nonce);
  at = putInt(out, putName(out, at, N.v, TAG_INT), FRAME_VERSION);
  if (at !== size) throw new Error(`frame header size mismatch: ${at} != ${size}`);
  return out;
}

function readOptStr(r: CanonicalReader, name: Buffer): string | null {
  const tag = r.name(name);
  if (tag === TAG_NULL) return null;
  if (tag !== TAG_STRING) r.fail(`field '${name.toString('latin1', 2)}' must be a string or null`);
  return r.strValue();
}
function readBytes(r: CanonicalReader, name: Buffer, len: number, nullable: boolean): Buffer | null {
  const tag = r.name(name);
  if (tag === TAG_NULL && nullable) return null;
  if (tag !== TAG_BYTES) r.fail(`field '${name.toString('latin1', 2)}' must be bytes`);
  const start = r.bytes();
  if (r.at - start !== len) r.fail(`field '${name.toString('latin1', 2)}' must be ${len} bytes`);
  return Buffer.from(r.buf.subarray(start, r.at));
}

/** A frame header declares more messages than a frame may hold (`maxBatch`): refused unread. */
export class FrameCountError extends Error {
  constructor(
    readonly count: number,
    readonly max: number,
  ) {
    super(`frame holds ${count} messages; the limit is ${max} (maxBatch)`);
  }
}

/**
 * The receiver's fast path: decodes a canonical frame header and every message header in it without
 * copying them; accepts exactly what `decodeFrameHeader` plus `decodeEnvelopeHeader` accept. A header
 * declaring more than `maxCount` messages throws FrameCountError before any message header is read;
 * anything malformed throws CanonicalEncodingError.
 */
export function readFrameHeader(
  h: Buffer,
  maxCount = Number.MAX_SAFE_INTEGER,
): { fields: FrameFields; envs: EnvelopeHeader[] } {
  const r = new CanonicalReader(h);
  if (h.length < 5 || h[0] !== 1 || h.readUInt32BE(1) !== 7)
    r.fail(`frame header is not a version-${FRAME_VERSION} header`);
  r.at = 5;
  const ekid = readOptStr(r, N.ekid);
  if (r.name(N.envs) !== TAG_LIST) r.fail("field 'envs' must be a list");
  if (r.at + 4 > h.length) r.fail('truncated');
  const count = h.readUInt32BE(r.at);
  if (count > maxCount) throw new FrameCountError(count, maxCount);
  r.at += 4;
  const spans: number[] = [];
  for (let i = 0; i < count; i++) {
    if (r.at + 4 > h.length) r.fail('truncated');
    const n = h.readUInt32BE(r.at);
    if (r.at + 4 + n > h.length) r.fail('truncated');
    spans.push(r.at + 4, r.at + 4 + n);
    r.at += 4 + n;
  }
  const fid = readBytes(r, N.fid, FRAME_ID_BYTES, false) as Buffer;
  if (r.name(N.from) !== TAG_STRING) r.fail("field 'from' must be a string");
  const from = r.strValue();
  const kid = readOptStr(r, N.kid);
  const nonce = readBytes(r, N.nonce, 12, true);
  if (r.name(N.v) !== TAG_INT) r.fail("field 'v' must be an integer");
  if (r.at + 8 !== h.length || h.readInt32BE(r.at) !== 0 || h.readUInt32BE(r.at + 4) !== FRAME_VERSION)
    r.fail(`frame header is not a version-${FRAME_VERSION} header`);
  const envs: EnvelopeHeader[] = new Array<EnvelopeHeader>(count);
  const er = new CanonicalReader(h);
  for (let i = 0; i < count; i++)
    envs[i] = readEnvelopeHeader(er, spans[2 * i] as number, spans[2 * i + 1] as number);
  return { fields: { fid, from, kid, ekid, nonce }, envs };
}

/** What the frame signature covers: the digests of the header and of the ciphertext ‖ tag. */
export function frameSignedBytes(h: Uint8Array, c: Uint8Array, t: Uint8Array): Buffer {
  const out = Buffer.from(SIGNED.template);
  sha256Into(out, SIGNED.h, h);
  sha256Into(out, SIGNED.c, c, t);
  return out;
}

/**
 * The canonical encoding of `{v, h, c}` with two 32-byte digests is fixed but for the digests: it is
 * produced once by the generic encoder, with marker digests to find where each one goes, and
 * filled in per frame (property-tested against the generic encoder).
 */
const SIGNED = ((): { template: Buffer; h: number; c: number } => {
  const hm = Buffer.alloc(32, 0xa5);
  const cm = Buffer.alloc(32, 0x5a);
  const template = encodeCanonical({ v: FRAME_VERSION, h: hm, c: cm });
  const h = template.indexOf(hm);
  const c = template.indexOf(cm);
  if (h < 0 || c < 0 || template.indexOf(hm, h + 1) >= 0 || template.indexOf(cm, c + 1) >= 0)
    throw new Error('frame signed-bytes template: digest markers not found exactly once');
  return { template, h, c };
})();

/** The length of {@link frameSignedBytes}'s output. */
export const FRAME_SIGNED_BYTES = SIGNED.template.length;

/** A frame as stored in a stream entry. */
export interface WireFrame {
  readonly h: Buffer;
  readonly s: Buffer;
  readonly c: Buffer;
  readonly t: Buffer;
}
