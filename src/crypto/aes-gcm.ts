import { createCipheriv, createDecipheriv } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AesGcmProviderError } from './errors.js';

/**
 * The AES-256-GCM implementation under {@link sealAesGcmInto} and {@link openAesGcmInto}:
 * - `native`: the project's own addon (native/aes-gcm.c, built by `npm run build` when the machine
 *   has a C compiler and Node's headers). It runs the OpenSSL inside Node through one reused context
 *   per direction: ~1 µs per 300-byte message here, and no object per message for the GC.
 * - `node`: Node's createCipheriv/createDecipheriv: the same bytes, ~5-8 µs per message, and a native
 *   Cipher object per message whose weak handle every young-generation GC processes when it dies.
 */
export type AesGcmProvider = 'native' | 'node';

/**
 * Chooses the provider: `auto` (the default: `native` when the addon is built, else `node`), `native`
 * (fail at start-up if the addon does not load) or `node`.
 */
export const AES_GCM_PROVIDER_ENV = 'ARS_AES_GCM';

/** One implementation of AES-256-GCM over caller-allocated buffers (what the addon exports). */
export interface AesGcmImplementation {
  /** Encrypts `plaintext` into `out` (as long as it) and writes the 16-byte tag into `tag`. */
  seal(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    plaintext: Uint8Array,
    out: Uint8Array,
    tag: Uint8Array,
  ): void;
  /** Decrypts `ciphertext` into `out`; false (and `out` zeroed) when the tag does not verify. */
  open(
    key: Uint8Array,
    nonce: Uint8Array,
    aad: Uint8Array,
    ciphertext: Uint8Array,
    tag: Uint8Array,
    out: Uint8Array,
  ): boolean;
}

/** The addon is built here from native/aes-gcm.c: dist/native, seen from src/crypto or dist/src/crypto. */
const ADDON_CANDIDATES = ['../../dist/native/aes-gcm.node', '../../native/aes-gcm.node'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

/** Node's crypto, with the same contract and the same argument checks as the addon. */
export const nodeAesGcm: AesGcmImplementation = {
  seal(key, nonce, aad, plaintext, out, tag) {
    checkArguments(key, nonce, aad, plaintext, out, tag, 'plaintext');
    const cipher = createCipheriv('aes-256-gcm', key, nonce);
    cipher.setAAD(aad);
    const body = cipher.update(plaintext);
    cipher.final();
    out.set(body);
    tag.set(cipher.getAuthTag());
  },
  open(key, nonce, aad, ciphertext, tag, out) {
    checkArguments(key, nonce, aad, ciphertext, out, tag, 'ciphertext');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAuthTag(tag);
      decipher.setAAD(aad);
      const body = decipher.update(ciphertext);
      decipher.final();
      out.set(body);
      return true;
    } catch {
      out.fill(0);
      return false;
    }
  },
};

/** The addon's argument checks (native/aes-gcm.c, read_args), with its messages. */
function checkArguments(
  key: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
  input: Uint8Array,
  out: Uint8Array,
  tag: Uint8Array,
  inputName: string,
): void {
  const args: [string, unknown][] = [
    ['key', key],
    ['nonce', nonce],
    ['aad', aad],
    [inputName, input],
    ['tag', tag],
    ['out', out],
  ];
  for (const [name, value] of args)
    if (!(value instanceof Uint8Array) || !(value.buffer instanceof ArrayBuffer))
      throw new TypeError(`aes-gcm: ${name} must be a Uint8Array over an ArrayBuffer (not shared)`);
  if (key.length !== 32) throw new TypeError('aes-gcm: key must be 32 bytes');
  if (nonce.length !== 12) throw new TypeError('aes-gcm: nonce must be 12 bytes');
  if (tag.length !== 16) throw new TypeError('aes-gcm: tag must be 16 bytes');
  if (out.length !== input.length) throw new TypeError('aes-gcm: out must be as long as the input');
  if (overlaps(out, input) && out.byteOffset !== input.byteOffset)
    throw new TypeError('aes-gcm: out must be the input itself or apart from it');
  if (overlaps(out, tag)) throw new TypeError('aes-gcm: out and tag must not overlap');
}

/** True when the two views share a byte. */
function overlaps(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.buffer === b.buffer &&
    a.length > 0 &&
    b.length > 0 &&
    a.byteOffset < b.byteOffset + b.length &&
    b.byteOffset < a.byteOffset + a.length
  );
}

/** Why the addon is absent, as the build recorded it (dist/native/aes-gcm.status). */
function buildStatus(): string {
  for (const candidate of ADDON_CANDIDATES) {
    const status = candidate.replace(/\.node$/, '.status');
    if (existsSync(status)) return readFileSync(status, 'utf8').trim();
  }
  return 'it has not been built: run npm run build';
}

/**
 * The GCM specification's AES-256 test case 16, run once on the addon as it loads: an addon that does
 * not give these bytes is not used.
 */
export function selfTest(addon: AesGcmImplementation): void {
  const hex = (x: string) => Buffer.from(x, 'hex');
  const key = hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308');
  const nonce = hex('cafebabefacedbaddecaf888');
  const aad = hex('feedfacedeadbeeffeedfacedeadbeefabaddad2');
  const plain = hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  );
  const want =
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662' +
    '76fc6ece0f4e1768cddf8853bb2d551b';
  if (typeof addon.seal !== 'function' || typeof addon.open !== 'function')
    throw new Error('it does not export seal and open');
  const c = Buffer.alloc(plain.length);
  const tag = Buffer.alloc(16);
  addon.seal(key, nonce, aad, plain, c, tag);
  const back = Buffer.alloc(plain.length);
  if (Buffer.concat([c, tag]).toString('hex') !== want || !addon.open(key, nonce, aad, c, tag, back))
    throw new Error('it fails the GCM test vector');
  tag[0] = (tag[0] as number) ^ 1;
  if (addon.open(key, nonce, aad, c, tag, back) || !back.every((x) => x === 0))
    throw new Error('it opens a forged tag');
}

/** The addon, or why not: the build's own words when it was not built, else the load's error. */
function loadNative(): { addon?: AesGcmImplementation; absence?: string } {
  const wanted = process.env[AES_GCM_PROVIDER_ENV] ?? '';
  if (!['', 'auto', 'native', 'node'].includes(wanted))
    throw new AesGcmProviderError(
      `${AES_GCM_PROVIDER_ENV}='${wanted}' is unknown; use auto, native or node (or leave it unset)`,
    );
  if (wanted === 'node') return { absence: `${AES_GCM_PROVIDER_ENV}=node` };
  const path = ADDON_CANDIDATES.find((p) => existsSync(p));
  try {
    if (!path) throw new Error(buildStatus());
    const addon = createRequire(import.meta.url)(path) as AesGcmImplementation;
    selfTest(addon);
    return { addon };
  } catch (error) {
    const why = path ? `${path} does not load: ${(error as Error).message}` : (error as Error).message;
    if (wanted === 'native')
      throw new AesGcmProviderError(
        `${AES_GCM_PROVIDER_ENV}=native, but the AES-GCM addon does not load (${why}); build it (npm run build, which needs a C compiler) or set ${AES_GCM_PROVIDER_ENV}=auto`,
        { cause: error },
      );
    return { absence: why };
  }
}

const { addon: native, absence } = loadNative();

/** The provider in use (see {@link AesGcmProvider}). */
export const aesGcmProvider: AesGcmProvider = native ? 'native' : 'node';

/** The addon when it loaded (for the tests that compare it with {@link nodeAesGcm}). */
export const nativeAesGcm: AesGcmImplementation | undefined = native;

/** Why the addon is not in use, when it is not (for logs and skipped tests). */
export const aesGcmNativeAbsence: string | undefined = absence;

const implementation = native ?? nodeAesGcm;

/**
 * AES-256-GCM encryption into caller-allocated buffers: `out` receives the ciphertext (it must be as
 * long as `plaintext`, and either be it or not overlap it), `tag` the 16-byte tag. A wrong argument is
 * a TypeError and writes nothing.
 */
export const sealAesGcmInto: AesGcmImplementation['seal'] = (key, nonce, aad, plaintext, out, tag) =>
  implementation.seal(key, nonce, aad, plaintext, out, tag);

/**
 * AES-256-GCM decryption into a caller-allocated buffer as long as `ciphertext`. Returns false, with
 * `out` zeroed, when the key, nonce, associated data, ciphertext or tag do not match.
 */
export const openAesGcmInto: AesGcmImplementation['open'] = (key, nonce, aad, ciphertext, tag, out) =>
  implementation.open(key, nonce, aad, ciphertext, tag, out);
