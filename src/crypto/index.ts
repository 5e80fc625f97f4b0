/**
 * Cryptographic building blocks of the runtime: a canonical (injective, deterministic) encoding
 * for signed records, Ed25519 signatures on Node KeyObjects (by libsodium through the optional
 * sodium-native addon when it loads, else by Node's built-in OpenSSL), AES-256-GCM with fresh 96-bit
 * nonces (by the project's own addon over Node's OpenSSL when it is built, else by Node's crypto),
 * the master key loader, and the keystore of per-owner signing and encryption keys (rotated on an
 * interval with a grace window, sealed at rest, never handed to a sandbox).
 */
export { encodeCanonical, decodeCanonical, type CanonicalRecord, type CanonicalValue } from './canonical.js';
export {
  generateSigningKeyPair,
  signEd25519,
  verifyEd25519,
  exportPrivateKey,
  importPrivateKey,
  ed25519Provider,
  ED25519_PROVIDER_ENV,
  type Ed25519Provider,
  type SigningKeyPair,
} from './ed25519.js';
export { sha256Into, SHA256_BYTES } from './digest.js';
export {
  sealAesGcmInto,
  openAesGcmInto,
  aesGcmProvider,
  AES_GCM_PROVIDER_ENV,
  type AesGcmProvider,
} from './aes-gcm.js';
export { sealAead, openAead, AEAD_KEY_BYTES, AEAD_NONCE_BYTES, AEAD_TAG_BYTES, type Sealed } from './aead.js';
export {
  loadMasterKey,
  loadOrCreateMasterKey,
  parseMasterKey,
  MASTER_KEY_ENV,
  MASTER_KEY_FILE_ENV,
} from './master-key.js';
export {
  createKeystore,
  compileKeystoreOptions,
  DEFAULT_KEYSTORE_OPTIONS,
  KEYSTORE_CACHE_LIMITS,
  type Keystore,
  type KeystoreOptions,
  type KeyKind,
  type CreateKeystoreInput,
} from './keystore.js';
export {
  createMemoryKeystoreBackend,
  createRedisKeystoreBackend,
  type KeystoreBackend,
} from './keystore-backend.js';
export type { RedisCommander } from './redis-commander.js';
export {
  CanonicalEncodingError,
  MasterKeyError,
  KeystoreError,
  DecryptionError,
  Ed25519ProviderError,
  AesGcmProviderError,
} from './errors.js';
