import { randomBytes, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import { openAead, sealAead, AEAD_NONCE_BYTES } from './aead.js';
import { KeystoreError } from './errors.js';
import {
  exportPrivateKey,
  generateSigningKeyPair,
  importPrivateKey,
  type SigningKeyPair,
} from './ed25519.js';
import type { KeystoreBackend } from './keystore-backend.js';

/** Defaults of {@link compileKeystoreOptions}. */
export const DEFAULT_KEYSTORE_OPTIONS = {
  /** How long one key is the current key of its owner. @default 86_400_000 (24 h) */
  rotationIntervalMs: 86_400_000,
  /** How long a key still verifies/decrypts after its interval ended. Must exceed the longest message TTL. @default 3_600_000 (1 h) */
  graceMs: 3_600_000,
  /** The least time between two reloads caused by the same unknown key id of one owner. @default 1000 */
  reloadCooldownMs: 1000,
} as const;

const optionsSchema = z.strictObject({
  rotationIntervalMs: z
    .int()
    .min(1000, 'rotationIntervalMs must be at least 1000')
    .default(DEFAULT_KEYSTORE_OPTIONS.rotationIntervalMs),
  graceMs: z.int().min(0).default(DEFAULT_KEYSTORE_OPTIONS.graceMs),
  reloadCooldownMs: z.int().min(0).default(DEFAULT_KEYSTORE_OPTIONS.reloadCooldownMs),
});

export type KeystoreOptions = z.output<typeof optionsSchema>;

/** Validates keystore options and applies the defaults. */
export function compileKeystoreOptions(input: z.input<typeof optionsSchema> = {}): KeystoreOptions {
  return parseOrThrow(optionsSchema, input, 'keystore options');
}

/** Signing keys (Ed25519) and encryption keys (AES-256) are separate keys with separate ids. */
export type KeyKind = 'sign' | 'enc';

interface KeyRecord {
  readonly kid: string;
  readonly kind: KeyKind;
  readonly epoch: number;
  readonly pair?: SigningKeyPair;
  readonly secret?: Buffer;
}

interface OwnerCache {
  readonly keys: Map<string, KeyRecord>;
  loadedAt: number;
}

/**
 * Per-owner keys with key ids, rotated on an interval with a grace window, sealed at rest with a
 * master key. An owner is any principal string ("agent:a1", "topics"). The key id of a key is
 * `${kind}.${epoch}` where epoch = floor(time / rotationInterval): the first process to need the key
 * of an epoch creates it with a write-if-absent, so concurrent processes agree on one key.
 * Keys stay in this runtime process; nothing here is ever handed to a sandbox.
 */
export interface Keystore {
  readonly options: KeystoreOptions;
  /** The owner's current signing key, created if this epoch has none yet. */
  currentSigningKey(owner: string): Promise<{ kid: string; privateKey: KeyObject }>;
  /** The public key for `kid` if it exists and is current or within its grace window. */
  verificationKey(owner: string, kid: string): Promise<KeyObject | undefined>;
  /** The owner's current AES-256 key, created if this epoch has none yet. */
  currentEncryptionKey(owner: string): Promise<{ kid: string; key: Buffer }>;
  /** The AES-256 key for `kid` if it exists and is current or within its grace window. */
  decryptionKey(owner: string, kid: string): Promise<Buffer | undefined>;
  /** The owner's current signing key if this process already holds it (no I/O), else undefined. */
  peekSigningKey(owner: string): { kid: string; privateKey: KeyObject } | undefined;
  /** The owner's current AES-256 key if this process already holds it (no I/O), else undefined. */
  peekEncryptionKey(owner: string): { kid: string; key: Buffer } | undefined;
}

export interface CreateKeystoreInput {
  readonly masterKey: Buffer;
  readonly backend: KeystoreBackend;
  readonly options?: z.input<typeof optionsSchema>;
  /** Clock (ms since epoch), injectable for rotation tests. */
  readonly now?: () => number;
}

export function createKeystore(input: CreateKeystoreInput): Keystore {
  if (input.masterKey.length !== 32) throw new KeystoreError('the master key must be 32 bytes', '*');
  const options = compileKeystoreOptions(input.options);
  const now = input.now ?? Date.now;
  const { masterKey, backend } = input;
  const cache = new Map<string, OwnerCache>();
  const loading = new Map<string, Promise<OwnerCache>>();

  const epochOf = (t: number): number => Math.floor(t / options.rotationIntervalMs);
  const usable = (rec: KeyRecord, t: number): boolean =>
    rec.epoch <= epochOf(t) + 1 && t < (rec.epoch + 1) * options.rotationIntervalMs + options.graceMs;
  const aad = (owner: string, field: string): Buffer => Buffer.from(`ars-keystore-v1\0${owner}\0${field}`);

  function seal(owner: string, rec: KeyRecord): Buffer {
    const material = rec.pair ? exportPrivateKey(rec.pair.privateKey) : (rec.secret as Buffer);
    const body = Buffer.from(
      JSON.stringify({ kind: rec.kind, epoch: rec.epoch, material: material.toString('base64') }),
    );
    const sealed = sealAead(masterKey, body, aad(owner, rec.kid));
    return Buffer.concat([sealed.nonce, sealed.ciphertext]);
  }

  function unseal(owner: string, field: string, blob: Buffer): KeyRecord {
    let parsed: { kind: KeyKind; epoch: number; material: string };
    try {
      const plain = openAead(
        masterKey,
        blob.subarray(0, AEAD_NONCE_BYTES),
        blob.subarray(AEAD_NONCE_BYTES),
        aad(owner, field),
      );
      parsed = JSON.parse(plain.toString('utf8')) as typeof parsed;
    } catch (cause) {
      throw new KeystoreError(
        `key '${field}' of '${owner}' cannot be unsealed: wrong master key (check ARS_MASTER_KEY) or a corrupted record`,
        owner,
        field,
        { cause },
      );
    }
    const material = Buffer.from(parsed.material, 'base64');
    return parsed.kind === 'sign'
      ? { kid: field, kind: 'sign', epoch: parsed.epoch, pair: importPrivateKey(material) }
      : { kid: field, kind: 'enc', epoch: parsed.epoch, secret: material };
  }

  async function load(owner: string): Promise<OwnerCache> {
    const pending = loading.get(owner);
    if (pending) return pending;
    const p = (async () => {
      const records = await backend.load(owner);
      const t = now();
      const keys = new Map<string, KeyRecord>();
      for (const [field, blob] of records) {
        const rec = unseal(owner, field, blob);
        if (usable(rec, t)) keys.set(field, rec);
      }
      const entry = { keys, loadedAt: t };
      cache.set(owner, entry);
      return entry;
    })();
    loading.set(owner, p);
    try {
      return await p;
    } finally {
      loading.delete(owner);
    }
  }

  async function current(owner: string, kind: KeyKind): Promise<KeyRecord> {
    const t = now();
    const epoch = epochOf(t);
    const kid = `${kind}.${epoch}`;
    const hit = cache.get(owner)?.keys.get(kid);
    if (hit) return hit;
    let entry = await load(owner);
    const loaded = entry.keys.get(kid);
    if (loaded) return loaded;
    const fresh: KeyRecord =
      kind === 'sign'
        ? { kid, kind, epoch, pair: generateSigningKeyPair() }
        : { kid, kind, epoch, secret: randomBytes(32) };
    await backend.putIfAbsent(owner, kid, seal(owner, fresh));
    const retired: string[] = [];
    const all = await backend.load(owner);
    for (const field of all.keys()) {
      const e = Number(field.split('.')[1]);
      if (Number.isFinite(e) && t >= (e + 1) * options.rotationIntervalMs + options.graceMs)
        retired.push(field);
    }
    await backend.remove(owner, retired);
    entry = await load(owner);
    const winner = entry.keys.get(kid);
    if (!winner)
      throw new KeystoreError(`key '${kid}' of '${owner}' vanished right after it was written`, owner, kid);
    return winner;
  }

  /** When an unknown key id last caused a reload, per owner and key id. */
  const misses = new Map<string, number>();

  /**
   * A key id that could be usable now: `sign.<epoch>` / `enc.<epoch>` with an epoch between the
   * oldest one still in its grace window and the next one. Only such ids cause a reload, at most
   * once per reloadCooldownMs each, so forged key ids cannot make the keystore hammer the backend.
   */
  function plausible(kid: string, t: number): boolean {
    const dot = kid.indexOf('.');
    const kind = kid.slice(0, dot);
    const epoch = Number(kid.slice(dot + 1));
    return (
      (kind === 'sign' || kind === 'enc') &&
      Number.isSafeInteger(epoch) &&
      epoch <= epochOf(t) + 1 &&
      epoch >= epochOf(t - options.graceMs) - 1
    );
  }

  async function lookup(owner: string, kid: string): Promise<KeyRecord | undefined> {
    const t = now();
    let entry = cache.get(owner);
    let rec = entry?.keys.get(kid);
    if (!rec) {
      // A key created after this owner's keys were loaded (keys are made on first use) is found
      // by a reload; the cooldown is per key id, so another owner's or kid's miss does not hide it.
      const missKey = `${owner}\0${kid}`;
      const lastMiss = misses.get(missKey);
      if (
        !entry ||
        (plausible(kid, t) && (lastMiss === undefined || t - lastMiss >= options.reloadCooldownMs))
      ) {
        if (misses.size >= 10_000) misses.clear();
        misses.set(missKey, t);
        entry = await load(owner);
        rec = entry.keys.get(kid);
      }
    }
    return rec && usable(rec, t) ? rec : undefined;
  }

  const peek = (owner: string, kind: KeyKind): KeyRecord | undefined =>
    cache.get(owner)?.keys.get(`${kind}.${epochOf(now())}`);

  return {
    options,
    peekSigningKey(owner) {
      const rec = peek(owner, 'sign');
      return rec?.pair ? { kid: rec.kid, privateKey: rec.pair.privateKey } : undefined;
    },
    peekEncryptionKey(owner) {
      const rec = peek(owner, 'enc');
      return rec?.secret ? { kid: rec.kid, key: rec.secret } : undefined;
    },
    async currentSigningKey(owner) {
      const rec = await current(owner, 'sign');
      return { kid: rec.kid, privateKey: (rec.pair as SigningKeyPair).privateKey };
    },
    async verificationKey(owner, kid) {
      const rec = await lookup(owner, kid);
      return rec?.kind === 'sign' ? rec.pair?.publicKey : undefined;
    },
    async currentEncryptionKey(owner) {
      const rec = await current(owner, 'enc');
      return { kid: rec.kid, key: rec.secret as Buffer };
    },
    async decryptionKey(owner, kid) {
      const rec = await lookup(owner, kid);
      return rec?.kind === 'enc' ? rec.secret : undefined;
    },
  };
}
