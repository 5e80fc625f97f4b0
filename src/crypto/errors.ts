import { ArsError } from '../util/errors.js';

/** A canonical encoding could not be produced or parsed (bad value, truncated or non-canonical bytes). */
export class CanonicalEncodingError extends ArsError {
  readonly code = 'ARS_CANONICAL_ENCODING';

  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** The master key (ARS_MASTER_KEY or a key file) is missing or malformed. */
export class MasterKeyError extends ArsError {
  readonly code = 'ARS_MASTER_KEY_INVALID';

  constructor(
    message: string,
    readonly source: 'env' | 'file' | 'none',
  ) {
    super(message);
  }
}

/** A keystore record could not be read, decrypted or written. */
export class KeystoreError extends ArsError {
  readonly code = 'ARS_KEYSTORE';

  constructor(
    message: string,
    readonly owner: string,
    readonly keyId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** AES-256-GCM authentication failed: wrong key, tampered ciphertext, nonce or associated data. */
export class DecryptionError extends ArsError {
  readonly code = 'ARS_DECRYPTION_FAILED';

  constructor(message = 'decryption failed: the ciphertext, nonce, key or associated data do not match') {
    super(message);
  }
}

/** ARS_ED25519 names an unknown Ed25519 provider, or `sodium` when the sodium-native addon does not load. */
export class Ed25519ProviderError extends ArsError {
  readonly code = 'ARS_ED25519_PROVIDER';
}

/** ARS_AES_GCM names an unknown AES-GCM provider, or `native` when the AES-GCM addon does not load. */
export class AesGcmProviderError extends ArsError {
  readonly code = 'ARS_AES_GCM_PROVIDER';
}
