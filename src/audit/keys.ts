import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditKeyError } from './errors.js';

/** The environment variable holding the audit signing key (PKCS#8 PEM, or a 32-byte seed in hex or base64). */
export const AUDIT_KEY_ENV = 'ARS_AUDIT_KEY';
/** Where the key is kept when the variable is not set. @default '.ars/keys' */
export const DEFAULT_AUDIT_KEY_DIR = '.ars/keys';
export const AUDIT_KEY_FILE = 'audit-ed25519.pem';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** An Ed25519 key pair with its key id. */
export interface AuditSigner {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The 32 raw bytes of the public key. */
  readonly publicKeyRaw: Buffer;
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return der.subarray(der.length - 32);
}

/** Key id: the first 16 hex characters of SHA-256 over the raw public key. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

/** Rebuilds a public key from its 32 raw bytes (as stored in the key registry). */
export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new AuditKeyError('raw public key', `expected 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Builds the signer from a private key. */
export function signerFromPrivateKey(privateKey: KeyObject): AuditSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new AuditKeyError(
      'private key',
      `expected an ed25519 key, got ${String(privateKey.asymmetricKeyType)}`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey, publicKeyRaw: rawPublicKey(publicKey) };
}

/** Parses a key given as PKCS#8 PEM, or as a 32-byte seed in hex (64 chars) or base64. */
export function parsePrivateKey(text: string, source: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('-----BEGIN')) return createPrivateKey(trimmed);
    const seed = /^[0-9a-fA-F]{64}$/.test(trimmed)
      ? Buffer.from(trimmed, 'hex')
      : Buffer.from(trimmed, 'base64');
    if (seed.length !== 32) throw new Error(`a seed must be 32 bytes, got ${seed.length}`);
    return createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
  } catch (error) {
    throw new AuditKeyError(
      source,
      `cannot parse it (${error instanceof Error ? error.message : String(error)}); give a PKCS#8 PEM Ed25519 key or a 32-byte seed in hex or base64`,
    );
  }
}

/** Generates a fresh signer (tests and benchmarks). */
export function generateAuditSigner(): AuditSigner {
  return signerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
}

/**
 * Loads the audit signing key: from `ARS_AUDIT_KEY` when set, else from `<keyDir>/audit-ed25519.pem`,
 * generating that file (mode 0600) on first use. Concurrent first uses agree on one key: the file is
 * created exclusively and a loser reads the winner's key.
 */
export function loadAuditSigner(options: { env?: NodeJS.ProcessEnv; keyDir?: string } = {}): AuditSigner {
  const env = options.env ?? process.env;
  const fromEnv = env[AUDIT_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '')
    return signerFromPrivateKey(parsePrivateKey(fromEnv, AUDIT_KEY_ENV));
  const dir = options.keyDir ?? DEFAULT_AUDIT_KEY_DIR;
  const file = join(dir, AUDIT_KEY_FILE);
  try {
    return signerFromPrivateKey(parsePrivateKey(readFileSync(file, 'utf8'), file));
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'ENOENT')) throw error;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  try {
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if (!(error instanceof Error && 'code' in error && error.code === 'EEXIST')) {
      throw new AuditKeyError(
        file,
        `cannot write the generated key: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  return signerFromPrivateKey(parsePrivateKey(readFileSync(file, 'utf8'), file));
}
