import { randomBytes } from 'node:crypto';
import { openAesGcmInto, sealAesGcmInto } from './aes-gcm.js';
import { DecryptionError } from './errors.js';

/** AES-256-GCM key length in bytes. */
export const AEAD_KEY_BYTES = 32;
/** GCM nonce length in bytes (96 bits, fresh and random for every message). */
export const AEAD_NONCE_BYTES = 12;
/** GCM tag length in bytes, appended to the ciphertext. */
export const AEAD_TAG_BYTES = 16;

const NO_AAD = new Uint8Array(0);

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
  const ciphertext = Buffer.allocUnsafe(plaintext.length + AEAD_TAG_BYTES);
  const body = ciphertext.subarray(0, plaintext.length);
  sealAesGcmInto(key, nonce, aad ?? NO_AAD, plaintext, body, ciphertext.subarray(plaintext.length));
  return { nonce, ciphertext };
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
  const bodyBytes = ciphertext.length - AEAD_TAG_BYTES;
  // its own memory, not a slice of Node's shared pool (these are often key records)
  const plaintext = Buffer.allocUnsafeSlow(bodyBytes);
  const tag = ciphertext.subarray(bodyBytes);
  if (!openAesGcmInto(key, nonce, aad ?? NO_AAD, ciphertext.subarray(0, bodyBytes), tag, plaintext))
    throw new DecryptionError();
  return plaintext;
}
