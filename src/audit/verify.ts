import type { KeyObject } from 'node:crypto';
import { checkpointSignatureValid, type AuditCheckpoint } from './checkpoint.js';
import { checkEncoding, decodeEntry, GENESIS_HASH, signatureValid } from './entry.js';

/** Why an entry (or the log) failed verification. */
export type VerifyFailureReason =
  | 'malformed'
  | 'not_canonical'
  | 'seq_mismatch'
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'unknown_key'
  | 'bad_signature'
  | 'rollback'
  | 'truncated'
  | 'head_mismatch'
  | 'bad_checkpoint';

/** The first bad entry: `seq` is the sequence number expected at that position of the log. */
export interface VerifyFailure {
  readonly seq: number;
  readonly reason: VerifyFailureReason;
  readonly message: string;
}

export interface VerifyResult {
  readonly ok: boolean;
  readonly from: number;
  readonly to: number;
  /** Entries checked. */
  readonly checked: number;
  /** Checkpoints compared against the log. */
  readonly checkpoints: number;
  readonly firstBad?: VerifyFailure;
}

/** A signature check left to the caller (see `deferSignatures`). */
export interface SignatureCheck {
  readonly seq: number;
  readonly keyId: string;
  /** The entry hash (hex): the signed message is its 32 bytes. */
  readonly hash: string;
  /** The signature (base64). */
  readonly sig: string;
}

/**
 * Verifies entries in log order, one at a time (so a caller can stream them from Redis), and stops at
 * the first bad one. Position p of the log must hold seq p; each entry's hash must be the hash of its
 * canonical fields; its prevHash the previous entry's hash; its signature valid under a known key; and
 * at every checkpoint's seq its hash must be the checkpoint's.
 *
 * With `deferSignatures`, every check but the Ed25519 verification itself is done here and the
 * signature checks are queued in `pendingSignatures` (in the order they would have run) for the caller
 * to run elsewhere (worker threads); `settleSignatures` then gives the result the sequential run would
 * have given.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string;
  private readonly byCheckpointSeq = new Map<number, AuditCheckpoint>();
  private readonly from: number;
  checked = 0;
  failure: VerifyFailure | undefined;
  /** Signature checks queued by `push` when signatures are deferred (the caller drains it). */
  pendingSignatures: SignatureCheck[] = [];

  constructor(
    from: number,
    /** Hash of entry from-1 (GENESIS_HASH when from is 1). */
    prevHash: string,
    private readonly keys: ReadonlyMap<string, KeyObject>,
    checkpoints: readonly AuditCheckpoint[] = [],
    private readonly deferSignatures = false,
  ) {
    this.from = from;
    this.expectedSeq = from;
    this.prevHash = from === 1 ? GENESIS_HASH : prevHash;
    for (const c of checkpoints) this.byCheckpointSeq.set(c.seq, c);
  }

  /** Checks the next stored entry; returns false (and sets `failure`) at the first bad one. */
  push(raw: string): boolean {
    if (this.failure) return false;
    const seq = this.expectedSeq;
    const fail = (reason: VerifyFailureReason, message: string): boolean => {
      this.failure = { seq, reason, message: `entry ${seq}: ${message}` };
      return false;
    };
    const entry = decodeEntry(raw);
    if (typeof entry === 'string') return fail('malformed', `cannot be decoded (${entry})`);
    if (entry.seq !== seq) {
      return entry.seq > seq
        ? fail(
            'seq_mismatch',
            `position ${seq} holds entry ${entry.seq}: entry ${seq} was deleted or entries were reordered`,
          )
        : fail(
            'seq_mismatch',
            `position ${seq} holds entry ${entry.seq}: an entry was inserted or entries were reordered`,
          );
    }
    const encoding = checkEncoding(entry, raw);
    if (encoding === 'not_canonical')
      return fail('not_canonical', 'is not in canonical encoding: it was rewritten');
    if (encoding === 'hash_mismatch')
      return fail('hash_mismatch', 'its content does not match its hash: it was edited');
    if (entry.prevHash !== this.prevHash)
      return fail(
        'prev_hash_mismatch',
        `its prevHash is not the hash of entry ${seq - 1}: the chain was broken before it`,
      );
    const key = this.keys.get(entry.keyId);
    if (!key) return fail('unknown_key', `is signed by unknown key '${entry.keyId}'`);
    if (this.deferSignatures)
      this.pendingSignatures.push({ seq, keyId: entry.keyId, hash: entry.hash, sig: entry.sig });
    else if (!signatureValid(entry, key)) return fail('bad_signature', badSignature(entry.keyId));
    const checkpoint = this.byCheckpointSeq.get(seq);
    if (checkpoint && checkpoint.hash !== entry.hash) {
      return fail(
        'rollback',
        `differs from the signed checkpoint of ${new Date(checkpoint.ts).toISOString()} (hash ${checkpoint.hash.slice(0, 12)}…): the log was rolled back and rewritten`,
      );
    }
    this.prevHash = entry.hash;
    this.expectedSeq += 1;
    this.checked += 1;
    return true;
  }

  /**
   * Applies the results of the deferred signature checks (`badSeqs`: the seqs whose signature is not
   * valid; all queued checks must have run): the first bad signature wins over a later chain failure,
   * as it would have in a sequential run.
   */
  settleSignatures(badSeqs: Iterable<number>, keyIdOf: (seq: number) => string): void {
    let first: number | undefined;
    for (const s of badSeqs) if (first === undefined || s < first) first = s;
    if (first === undefined) return;
    if (this.failure && this.failure.seq < first) return;
    this.failure = {
      seq: first,
      reason: 'bad_signature',
      message: `entry ${first}: ${badSignature(keyIdOf(first))}`,
    };
    this.checked = first - this.from;
    this.prevHash = '';
  }

  /** The hash of the last good entry. */
  get lastHash(): string {
    return this.prevHash;
  }

  get nextSeq(): number {
    return this.expectedSeq;
  }
}

const badSignature = (keyId: string): string =>
  `its signature is not valid for key '${keyId}': it was edited and re-hashed`;

/** Checks checkpoint signatures; returns the valid ones and a failure for the first forged one. */
export function checkCheckpoints(
  checkpoints: readonly AuditCheckpoint[],
  keys: ReadonlyMap<string, KeyObject>,
): { valid: AuditCheckpoint[]; failure?: VerifyFailure } {
  const valid: AuditCheckpoint[] = [];
  for (const c of checkpoints) {
    const key = keys.get(c.keyId);
    if (!key || !checkpointSignatureValid(c, key)) {
      return {
        valid,
        failure: {
          seq: c.seq,
          reason: 'bad_checkpoint',
          message: `checkpoint at entry ${c.seq} has an invalid signature or an unknown key '${c.keyId}'`,
        },
      };
    }
    valid.push(c);
  }
  return { valid };
}
