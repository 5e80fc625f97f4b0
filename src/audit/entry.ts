import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalize, type JsonObject } from './canonical.js';
import { AUDIT_EVENT_KINDS, type AuditEvent, type AuditEventKind } from './events.js';
import type { AuditSigner } from './keys.js';

/** Format version of an entry. */
export const AUDIT_ENTRY_VERSION = 1;
/** prevHash of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** One link of the chain. `hash` covers every other field but `sig`; `sig` signs the hash. */
export interface AuditEntry {
  readonly v: number;
  readonly seq: number;
  readonly ts: number;
  readonly kind: AuditEventKind;
  readonly agentId: string | null;
  readonly actor: string | null;
  readonly data: JsonObject;
  readonly prevHash: string;
  readonly keyId: string;
  /** SHA-256 (hex) of the canonical encoding of the fields above. */
  readonly hash: string;
  /** Ed25519 signature (base64) over the 32 bytes of `hash`. */
  readonly sig: string;
}

type Body = Omit<AuditEntry, 'hash' | 'sig'>;

function bodyOf(e: Body): Body {
  return {
    v: e.v,
    seq: e.seq,
    ts: e.ts,
    kind: e.kind,
    agentId: e.agentId,
    actor: e.actor,
    data: e.data,
    prevHash: e.prevHash,
    keyId: e.keyId,
  };
}

/** SHA-256 over the canonical encoding of every field except hash and sig. */
export function hashEntryBody(body: Body): string {
  return sha256Hex(canonicalize(bodyOf(body)));
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The canonical encodings of an entry without (`body`, what is hashed) and with `hash` and `sig`
 * (`stored`), assembled from the canonical encoding of `data` so that `data` is encoded once. The
 * keys are written in sorted order — actor, agentId, data, [hash], keyId, kind, prevHash, seq, [sig],
 * ts, v — so both strings are exactly what `canonicalize` gives for the same objects (a unit test
 * checks this against `canonicalize` on random entries).
 */
export function entryEncodings(
  e: Body,
  dataJson: string,
  hash: string,
  sig: string,
): { body: string; stored: string } {
  const head = `{"actor":${JSON.stringify(e.actor)},"agentId":${JSON.stringify(e.agentId)},"data":${dataJson},`;
  const mid = `"keyId":${JSON.stringify(e.keyId)},"kind":${JSON.stringify(e.kind)},"prevHash":${JSON.stringify(e.prevHash)},"seq":${JSON.stringify(e.seq)},`;
  const tail = `"ts":${JSON.stringify(e.ts)},"v":${JSON.stringify(e.v)}}`;
  return {
    body: head + mid + tail,
    stored: `${head}"hash":${JSON.stringify(hash)},${mid}"sig":${JSON.stringify(sig)},${tail}`,
  };
}

/** A sealed entry with its stored (canonical) encoding. */
export interface SealedEntry {
  readonly entry: AuditEntry;
  readonly encoded: string;
}

/**
 * Seals `event` at `seq` after `prevHash`, given the canonical encoding of its data (computed once per
 * event, so a batch re-sealed after a lost compare-and-set does not encode it again).
 */
export function sealPrepared(
  event: AuditEvent,
  dataJson: string,
  seq: number,
  prevHash: string,
  signer: AuditSigner,
): SealedEntry {
  const body: Body = {
    v: AUDIT_ENTRY_VERSION,
    seq,
    ts: event.ts,
    kind: event.kind,
    agentId: event.agentId,
    actor: event.actor,
    data: event.data,
    prevHash,
    keyId: signer.keyId,
  };
  const hash = sha256Hex(entryEncodings(body, dataJson, '', '').body);
  const sig = sign(null, Buffer.from(hash, 'hex'), signer.privateKey).toString('base64');
  return { entry: { ...body, hash, sig }, encoded: entryEncodings(body, dataJson, hash, sig).stored };
}

/** Builds, hashes and signs the entry for `event` at `seq` after `prevHash`. */
export function sealEntry(event: AuditEvent, seq: number, prevHash: string, signer: AuditSigner): AuditEntry {
  return sealPrepared(event, canonicalize(event.data), seq, prevHash, signer).entry;
}

/** The stored form of an entry: its canonical encoding. */
export function encodeEntry(entry: AuditEntry): string {
  return canonicalize(entry);
}

/**
 * Checks a decoded entry against its stored text: whether the text is the canonical encoding of the
 * entry, and whether `hash` is the SHA-256 of the canonical encoding of every other field but `sig`.
 */
export function checkEncoding(entry: AuditEntry, raw: string): 'ok' | 'not_canonical' | 'hash_mismatch' {
  let dataJson: string;
  try {
    dataJson = canonicalize(entry.data);
  } catch {
    return 'not_canonical'; // e.g. a number that JSON.parse turned into Infinity
  }
  const { body, stored } = entryEncodings(entry, dataJson, entry.hash, entry.sig);
  if (stored !== raw) return 'not_canonical';
  return sha256Hex(body) === entry.hash ? 'ok' : 'hash_mismatch';
}

/** Checks the Ed25519 signature of an entry's hash. */
export function signatureValid(entry: AuditEntry, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(entry.hash, 'hex'), publicKey, Buffer.from(entry.sig, 'base64'));
  } catch {
    return false;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses a stored entry and checks its shape; returns a reason string when it is not an entry. */
export function decodeEntry(raw: string): AuditEntry | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const e = value as Record<string, unknown>;
  const expected = ['actor', 'agentId', 'data', 'hash', 'keyId', 'kind', 'prevHash', 'seq', 'sig', 'ts', 'v'];
  const keys = Object.keys(e).sort();
  if (keys.join(',') !== expected.join(','))
    return `fields are [${keys.join(', ')}], expected [${expected.join(', ')}]`;
  if (e.v !== AUDIT_ENTRY_VERSION) return `unknown version ${String(e.v)}`;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1) return 'seq is not a positive integer';
  if (!Number.isSafeInteger(e.ts)) return 'ts is not an integer';
  if (typeof e.kind !== 'string' || !(AUDIT_EVENT_KINDS as readonly string[]).includes(e.kind))
    return `unknown kind ${String(e.kind)}`;
  if (e.agentId !== null && typeof e.agentId !== 'string') return 'agentId is not a string or null';
  if (e.actor !== null && typeof e.actor !== 'string') return 'actor is not a string or null';
  if (typeof e.data !== 'object' || e.data === null || Array.isArray(e.data)) return 'data is not an object';
  if (typeof e.prevHash !== 'string' || !HEX64.test(e.prevHash))
    return 'prevHash is not a sha-256 hex digest';
  if (typeof e.hash !== 'string' || !HEX64.test(e.hash)) return 'hash is not a sha-256 hex digest';
  if (typeof e.keyId !== 'string' || typeof e.sig !== 'string') return 'keyId or sig is not a string';
  return value as AuditEntry;
}
