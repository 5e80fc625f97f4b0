import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptionError } from './errors.js';

/** AES-256-GCM key length in bytes. */
export const AEAD_KEY_BYTES = 32;
/** GCM nonce length in bytes (96 bits, fresh and random for every message). */
export const AEAD_NONCE_BYTES = 12;
/** GCM tag length in bytes, appended to the ciphertext. */
export const AEAD_TAG_BYTES = 16;

/** The result of {@link sealAead}: the nonce and ciphertext‖tag. */
export interface Sealed {
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
}

/** Encrypts with AES-256-GCM under a fresh random 96-bit nonce; `aad` is authenticated, not encrypted. */
export function sealAead(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
  nonce: Buffer = randomBytes(AEAD_NONCE_BYTES),
): Sealed {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  if (aad) cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return { nonce, ciphertext: Buffer.concat([body, final, cipher.getAuthTag()]) };
}

/** Decrypts AES-256-GCM ciphertext‖tag; throws DecryptionError if anything was altered. */
export function openAead(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  aad?: Uint8Array,
): Buffer {
  if (
    nonce.length !== AEAD_NONCE_BYTES ||
    ciphertext.length < AEAD_TAG_BYTES ||
    key.length !== AEAD_KEY_BYTES
  ) {
    throw new DecryptionError('decryption failed: nonce, key or ciphertext has the wrong length');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - AEAD_TAG_BYTES));
    if (aad) decipher.setAAD(aad);
    return Buffer.concat([
      decipher.update(ciphertext.subarray(0, ciphertext.length - AEAD_TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new DecryptionError();
  }
}
