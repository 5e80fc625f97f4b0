import { FRAME_SIGNED_BYTES } from './frame.js';

/** An Ed25519 signature's length. */
const ED25519_SIGNATURE_BYTES = 64;

/** Signatures a memo keeps by default: a few seconds of traffic at the bus's measured rates. */
export const SIGNATURE_MEMO_SIZE = 8192;

/**
 * The frame signatures this bus made or checked lately, each with the exact bytes it signs
 * (`frameSignedBytes`: the two SHA-256 digests covering the frame header, ciphertext and tag).
 *
 * A frame whose signature and signed bytes are byte for byte a pair in the memo needs no Ed25519
 * verification: Ed25519 is deterministic and a key id names one key for good, so the verification
 * would repeat one that passed here (or check a signature this process made itself), and any change
 * to the frame changes a digest and misses the memo. The memo lives in this process's memory only;
 * the key lookup before it (retired keys, unknown key ids) still runs for every frame.
 *
 * It saves the verification where it costs most: a frame between agents that consume on one bus
 * (a request whose server shares the requester's bus; its reply is handed over without a frame), and
 * a topic or broadcast frame read by many subscribers of one process (each verified it before).
 * Fixed memory, allocated on first use: a ring of `size` slots and a map from each signature's
 * first 4 bytes to its slot (a clash only costs a miss).
 */
export class SignatureMemo {
  private ring: Buffer | undefined;
  private readonly slotKeys: Int32Array;
  private readonly slots = new Map<number, number>();
  private next = 0;
  private filled = 0;

  constructor(
    private readonly size = SIGNATURE_MEMO_SIZE,
    private readonly signedBytes = FRAME_SIGNED_BYTES,
  ) {
    this.slotKeys = new Int32Array(size);
  }

  private get width(): number {
    return ED25519_SIGNATURE_BYTES + this.signedBytes;
  }

  /** Records that `signature` is a valid signature of `signed` (made here, or verified here). */
  remember(signature: Uint8Array, signed: Uint8Array): void {
    if (signature.length !== ED25519_SIGNATURE_BYTES || signed.length !== this.signedBytes) return;
    this.ring ??= Buffer.alloc(this.size * this.width);
    const slot = this.next;
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    if (this.filled > slot) {
      const old = this.slotKeys[slot] as number;
      if (this.slots.get(old) === slot) this.slots.delete(old);
    } else this.filled = slot + 1;
    const at = slot * this.width;
    this.ring.set(signature, at);
    this.ring.set(signed, at + ED25519_SIGNATURE_BYTES);
    const key = keyOf(signature);
    this.slotKeys[slot] = key;
    this.slots.set(key, slot);
  }

  /** True when (`signature`, `signed`) is exactly a pair remembered (and not yet overwritten). */
  vouches(signature: Uint8Array, signed: Uint8Array): boolean {
    if (this.ring === undefined) return false;
    if (signature.length !== ED25519_SIGNATURE_BYTES || signed.length !== this.signedBytes) return false;
    const slot = this.slots.get(keyOf(signature));
    if (slot === undefined) return false;
    const at = slot * this.width;
    const mid = at + ED25519_SIGNATURE_BYTES;
    return (
      this.ring.compare(signature, 0, ED25519_SIGNATURE_BYTES, at, mid) === 0 &&
      this.ring.compare(signed, 0, this.signedBytes, mid, mid + this.signedBytes) === 0
    );
  }
}

const keyOf = (s: Uint8Array): number =>
  (s[0] as number) | ((s[1] as number) << 8) | ((s[2] as number) << 16) | ((s[3] as number) << 24);
