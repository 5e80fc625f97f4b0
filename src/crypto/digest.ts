import { createHash } from 'node:crypto';
import { sodium } from './sodium.js';

export const SHA256_BYTES = 32;

/** One reusable libsodium hash state: sha256Into runs synchronously, so it is never shared. */
const state = sodium ? Buffer.alloc(sodium.crypto_hash_sha256_STATEBYTES) : undefined;

/**
 * Writes SHA-256(a ‖ b) into `out` at `at`. With libsodium (the Ed25519 provider, see
 * ED25519_PROVIDER_ENV) the digest is computed into a reused state with no object per call; Node's
 * `createHash` makes a native Hash object per digest, which the young-generation GC must then
 * finalise (a frame's signature covers two digests, made on every send and every receive).
 */
export function sha256Into(out: Uint8Array, at: number, a: Uint8Array, b?: Uint8Array): void {
  if (at < 0 || at + SHA256_BYTES > out.length)
    throw new RangeError(`sha256Into: ${SHA256_BYTES} bytes at ${at} do not fit in ${out.length}`);
  const target = out.subarray(at, at + SHA256_BYTES);
  if (sodium && state) {
    sodium.crypto_hash_sha256_init(state);
    sodium.crypto_hash_sha256_update(state, a);
    if (b) sodium.crypto_hash_sha256_update(state, b);
    sodium.crypto_hash_sha256_final(state, target);
    return;
  }
  const h = createHash('sha256').update(a);
  if (b) h.update(b);
  target.set(h.digest());
}
