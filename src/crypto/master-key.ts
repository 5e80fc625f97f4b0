import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { MasterKeyError } from './errors.js';

/** The `code` of a Node system error, if it is one. */
const codeOf = (error: unknown): unknown =>
  error instanceof Error && 'code' in error ? error.code : undefined;

/** The environment variable that holds the keystore master key (32 bytes, base64 or hex). */
export const MASTER_KEY_ENV = 'ARS_MASTER_KEY';
/** The environment variable naming a file that holds the master key. */
export const MASTER_KEY_FILE_ENV = 'ARS_MASTER_KEY_FILE';

/** Parses a 32-byte key written as 64 hex digits or base64 (44 chars). */
export function parseMasterKey(text: string, source: 'env' | 'file', path?: string): Buffer {
  const t = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) key = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{42,43}={0,2}$/.test(t))
    key = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  if (!key || key.length !== 32) {
    throw new MasterKeyError(
      `the master key from ${source === 'env' ? MASTER_KEY_ENV : `the key file${path ? ` '${path}'` : ''}`} must be 32 bytes written as 64 hex digits or base64; generate one with: openssl rand -base64 32`,
      source,
    );
  }
  return key;
}

/**
 * Loads the keystore master key: `ARS_MASTER_KEY` if set, else the file named by `file` or
 * `ARS_MASTER_KEY_FILE`. Throws MasterKeyError when none is configured or it is malformed.
 */
export function loadMasterKey(options: { env?: NodeJS.ProcessEnv; file?: string } = {}): Buffer {
  const env = options.env ?? process.env;
  const inline = env[MASTER_KEY_ENV];
  if (inline) return parseMasterKey(inline, 'env');
  const file = options.file ?? env[MASTER_KEY_FILE_ENV];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (cause) {
      throw new MasterKeyError(
        `cannot read the master key file '${file}': ${(cause as Error).message}; check ${MASTER_KEY_FILE_ENV}`,
        'file',
      );
    }
    return parseMasterKey(text, 'file', file);
  }
  throw new MasterKeyError(
    `no master key: set ${MASTER_KEY_ENV} (32 bytes, base64 or hex) or ${MASTER_KEY_FILE_ENV}`,
    'none',
  );
}

/**
 * The master key for a runtime on one machine: `ARS_MASTER_KEY` / `ARS_MASTER_KEY_FILE` when set,
 * else `devFile`, created with a fresh random key (mode 0600) on first use. Every process of a
 * runtime must use the same key; processes on other machines need ARS_MASTER_KEY(_FILE).
 */
export function loadOrCreateMasterKey(devFile: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  if (env[MASTER_KEY_ENV] || env[MASTER_KEY_FILE_ENV]) return loadMasterKey({ env });
  const read = (): Buffer => {
    // a file still empty was just created by a process starting alongside (where the file system has
    // no hard links, the key is written in place): give it a moment to write the key
    let text = readFileSync(devFile, 'utf8');
    for (let i = 0; i < 20 && text === ''; i++) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      text = readFileSync(devFile, 'utf8');
    }
    return parseMasterKey(text, 'file', devFile);
  };
  try {
    return read();
  } catch (error) {
    if (codeOf(error) !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(devFile), { recursive: true, mode: 0o700 });
  // Written in full to a file of its own, then linked into place: the link is atomic and fails if
  // the file exists, so a process starting at the same time never reads a key half written.
  const key = `${randomBytes(32).toString('base64')}\n`;
  const draft = `${devFile}.${process.pid}.${randomBytes(6).toString('hex')}`;
  try {
    writeFileSync(draft, key, { mode: 0o600, flag: 'wx' });
    linkSync(draft, devFile);
  } catch (error) {
    // EEXIST: another process created it first; use theirs. EPERM/ENOTSUP: no hard links on this
    // file system; create it in place instead (exclusively: the first writer wins).
    if (codeOf(error) === 'EPERM' || codeOf(error) === 'ENOTSUP') {
      try {
        writeFileSync(devFile, key, { mode: 0o600, flag: 'wx' });
      } catch (again) {
        if (codeOf(again) !== 'EEXIST') throw again;
      }
    } else if (codeOf(error) !== 'EEXIST') throw error;
  } finally {
    rmSync(draft, { force: true });
  }
  return read();
}
