import { createRequire } from 'node:module';
import { Ed25519ProviderError } from './errors.js';

/**
 * Chooses who computes Ed25519 (and, with it, the SHA-256 digests a bus frame's signature covers):
 * `auto` (the default: libsodium when the optional `sodium-native` addon loads, else Node's
 * OpenSSL), `sodium` (fail at start-up if the addon cannot load) or `node` (never load the addon).
 */
export const ED25519_PROVIDER_ENV = 'ARS_ED25519';

/** The part of sodium-native the runtime uses. */
export interface Sodium {
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  readonly crypto_hash_sha256_STATEBYTES: number;
  crypto_hash_sha256_init(state: Uint8Array): void;
  crypto_hash_sha256_update(state: Uint8Array, input: Uint8Array): void;
  crypto_hash_sha256_final(state: Uint8Array, output: Uint8Array): void;
}

function loadSodium(): Sodium | undefined {
  const wanted = process.env[ED25519_PROVIDER_ENV] ?? '';
  if (!['', 'auto', 'sodium', 'node'].includes(wanted))
    throw new Ed25519ProviderError(
      `${ED25519_PROVIDER_ENV}='${wanted}' is unknown; use auto, sodium or node (or leave it unset)`,
    );
  if (wanted === 'node') return undefined;
  try {
    return createRequire(import.meta.url)('sodium-native') as Sodium;
  } catch (error) {
    if (wanted === 'sodium')
      throw new Ed25519ProviderError(
        `${ED25519_PROVIDER_ENV}=sodium, but the sodium-native addon does not load (${(error as Error).message}); install it (npm install sodium-native) or set ${ED25519_PROVIDER_ENV}=auto`,
        { cause: error },
      );
    return undefined;
  }
}

/** libsodium, when it is to be used (see {@link ED25519_PROVIDER_ENV}); else undefined. */
export const sodium: Sodium | undefined = loadSodium();
