import { sign, verify, type KeyObject } from 'node:crypto';
import { canonicalize } from './canonical.js';
import type { AuditSigner } from './keys.js';

/** A signed statement "the head of the log was entry `seq` with hash `hash` at time `ts`". */
export interface AuditCheckpoint {
  readonly v: number;
  readonly seq: number;
  readonly hash: string;
  readonly ts: number;
  readonly keyId: string;
  /** Ed25519 signature (base64) over the canonical encoding of the fields above. */
  readonly sig: string;
}

const signedPart = (c: Omit<AuditCheckpoint, 'sig'>): Buffer =>
  Buffer.from(canonicalize({ v: c.v, seq: c.seq, hash: c.hash, ts: c.ts, keyId: c.keyId }));

export function sealCheckpoint(
  head: { seq: number; hash: string },
  ts: number,
  signer: AuditSigner,
): AuditCheckpoint {
  const body = { v: 1, seq: head.seq, hash: head.hash, ts, keyId: signer.keyId };
  return { ...body, sig: sign(null, signedPart(body), signer.privateKey).toString('base64') };
}

export function checkpointSignatureValid(c: AuditCheckpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedPart(c), publicKey, Buffer.from(c.sig, 'base64'));
  } catch {
    return false;
  }
}

/** Parses a stored checkpoint (Redis list item or a line of a checkpoint file). */
export function decodeCheckpoint(raw: string): AuditCheckpoint | undefined {
  try {
    const c = JSON.parse(raw) as Record<string, unknown>;
    if (
      c.v === 1 &&
      Number.isSafeInteger(c.seq) &&
      typeof c.hash === 'string' &&
      Number.isSafeInteger(c.ts) &&
      typeof c.keyId === 'string' &&
      typeof c.sig === 'string'
    ) {
      return c as unknown as AuditCheckpoint;
    }
  } catch {
    // fall through
  }
  return undefined;
}
