import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { createRequire } from 'node:module';
import { Ed25519ProviderError } from './errors.js';

/** An Ed25519 key pair as Node KeyObjects. */
export interface SigningKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/**
 * The Ed25519 implementation that signs and verifies:
 * - `sodium`: libsodium, through the optional native addon `sodium-native` (prebuilt for the usual
 *   platforms). Measured here it signs ~2x and verifies ~1.8x faster than Node's OpenSSL
 *   (`npx tsx bench/bus/bus.ts` prints both rates).
 * - `node`: Node's built-in Ed25519 (OpenSSL), ~12x faster than `@noble/ed25519` here.
 *
 * Both produce the same signatures (Ed25519 is deterministic) and accept each other's. libsodium's
 * verification is the stricter one (it also refuses small-order keys and non-canonical points),
 * which only ever turns an accept into a reject.
 */
export type Ed25519Provider = 'sodium' | 'node';

/**
 * Chooses the provider: `auto` (the default: `sodium` when the addon loads, else `node`), `sodium`
 * (fail at start-up if the addon cannot load) or `node`.
 */
export const ED25519_PROVIDER_ENV = 'ARS_ED25519';

/** The part of sodium-native this module uses. */
interface Sodium {
  crypto_sign_detached(signature: Uint8Array, message: Uint8Array, secretKey: Uint8Array): void;
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
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

const sodium = loadSodium();

/** The provider in use (see {@link Ed25519Provider}). */
export const ed25519Provider: Ed25519Provider = sodium ? 'sodium' : 'node';

/** The fixed DER prefixes of an Ed25519 PKCS#8 private key (then the 32-byte seed) and SPKI public key. */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/**
 * The raw key bytes libsodium takes, derived once per KeyObject: the 64-byte secret key (seed ‖
 * public key) of a private key, the 32-byte public key of either kind. Held as long as the
 * KeyObject is (the keystore keeps the keys it uses in memory anyway). The secret key is copied
 * from DER into its own memory (not Node's shared buffer pool, not a string) and the DER is zeroed.
 */
const secretKeys = new WeakMap<KeyObject, Buffer>();
const publicKeys = new WeakMap<KeyObject, Buffer | null>();

/** The 32 public key bytes of an Ed25519 key (public, or private: its public half). */
function spkiKey(key: KeyObject): Buffer | null {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });
  return spki.length === 44 && spki.subarray(0, 12).equals(SPKI_PREFIX) ? spki.subarray(12) : null;
}

/** Throws the TypeError both providers give for a key that is not an Ed25519 private key. */
function assertSigningKey(key: KeyObject): void {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new TypeError(
      `signEd25519 needs an Ed25519 private key, not a ${key.type} ${key.asymmetricKeyType ?? ''} key`,
    );
}

/** Checked once per key, when its bytes are first derived (not on every signature). */
function rawSecretKey(key: KeyObject): Buffer {
  let sk = secretKeys.get(key);
  if (sk === undefined) {
    assertSigningKey(key);
    const der = key.export({ format: 'der', type: 'pkcs8' });
    const pk = spkiKey(key);
    try {
      if (der.length !== 48 || !der.subarray(0, 16).equals(PKCS8_PREFIX) || pk === null)
        throw new TypeError('signEd25519: malformed Ed25519 private key');
      sk = Buffer.alloc(64);
      der.copy(sk, 0, 16);
      pk.copy(sk, 32);
    } finally {
      der.fill(0);
    }
    secretKeys.set(key, sk);
  }
  return sk;
}

/** The 32 public key bytes, or null when `key` is not an Ed25519 key. */
function rawPublicKey(key: KeyObject): Buffer | null {
  let pk = publicKeys.get(key);
  if (pk === undefined) {
    pk = key.type !== 'secret' && key.asymmetricKeyType === 'ed25519' ? spkiKey(key) : null;
    publicKeys.set(key, pk);
  }
  return pk;
}

/** Makes a fresh Ed25519 key pair. */
export function generateSigningKeyPair(): SigningKeyPair {
  return generateKeyPairSync('ed25519');
}

/** Signs `data` with an Ed25519 private key; returns the 64-byte signature. */
export function signEd25519(privateKey: KeyObject, data: Uint8Array): Buffer {
  if (!sodium) {
    assertSigningKey(privateKey);
    return sign(null, data, privateKey);
  }
  const signature = Buffer.allocUnsafe(64);
  sodium.crypto_sign_detached(signature, data, rawSecretKey(privateKey));
  return signature;
}

/** True when `signature` is a valid Ed25519 signature of `data` under `publicKey`. Never throws on bad input. */
export function verifyEd25519(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    if (!sodium) return verify(null, data, publicKey, signature);
    const pk = rawPublicKey(publicKey);
    return pk !== null && sodium.crypto_sign_verify_detached(signature, data, pk);
  } catch {
    return false;
  }
}

/** PKCS#8 DER bytes of a private key (for storage encrypted at rest). */
export function exportPrivateKey(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}

/** Loads a private key from PKCS#8 DER bytes and derives its public key. */
export function importPrivateKey(der: Uint8Array): SigningKeyPair {
  const privateKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
