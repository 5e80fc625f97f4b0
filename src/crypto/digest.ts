import * as crypto from 'node:crypto';

export const SHA256_BYTES = 32;

/** Node's one-shot digest (20.12+): OpenSSL's SHA-256 with no Hash object per call. */
const oneShot: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;
/** Where two small parts are joined for one one-shot digest (sha256Into runs synchronously). */
const scratch = Buffer.allocUnsafe(8192);

/**
 * Writes SHA-256(a ‖ b) into `out` at `at`. Small inputs (a bus frame of one request is a few hundred
 * bytes) go through Node's one-shot `crypto.hash`: `createHash` makes a native Hash object per digest,
 * which costs more than hashing a few hundred bytes and whose weak handle every young-generation GC
 * processes while it lives (a frame's signature covers two digests, made on every send and every
 * receive; docs/bus.md, "Who computes SHA-256"). Large inputs use `createHash`, whose per-call cost is
 * then negligible.
 */
export function sha256Into(out: Uint8Array, at: number, a: Uint8Array, b?: Uint8Array): void {
  if (!Number.isInteger(at) || at < 0 || at + SHA256_BYTES > out.length)
    throw new RangeError(`sha256Into: ${SHA256_BYTES} bytes at ${at} do not fit in ${out.length}`);
  let digest: Buffer;
  if (oneShot && !b?.length) digest = oneShot('sha256', a, 'buffer');
  else if (oneShot && b && a.length + b.length <= scratch.length) {
    const both = a.length + b.length;
    scratch.set(a, 0);
    scratch.set(b, a.length);
    digest = oneShot('sha256', scratch.subarray(0, both), 'buffer');
    // no copy of the input outlives the call (a caller may hash secrets)
    scratch.fill(0, 0, both);
  } else {
    const h = crypto.createHash('sha256').update(a);
    if (b) h.update(b);
    digest = h.digest();
  }
  out.set(digest, at);
}
