import { randomBytes, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { openAead, sealAead, AEAD_KEY_BYTES, AEAD_NONCE_BYTES } from './aead.js';
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
  /**
   * The least time between two reloads started by lookups of the same unknown key id of one owner.
   * Lookups made while a reload is in flight wait for it instead. @default 1000
   */
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

/**
 * Bounds of the keystore's in-process cache of owners. Every owner a frame claims (with a key id
 * that could be usable now) costs one backend read, so the cache must not grow with forged senders:
 * owners that have key records are held up to `owners`, and owners without any (forged senders, or
 * agents that never sent) in a separate, smaller map up to `emptyOwners`, so a flood of forged
 * senders can neither grow memory nor push real owners (and their reload cooldowns) out. Both maps
 * evict the least recently used owner; an evicted owner is simply read again on its next use.
 */
export const KEYSTORE_CACHE_LIMITS = {
  /** Owners with key records held at once (agents talking to this process, plus the bus's owners). */
  owners: 10_000,
  /** Owners without key records held at once, with their reload cooldowns. */
  emptyOwners: 1_000,
  /** Key ids of one owner whose reload cooldown is remembered (only ids that could be usable now count). */
  cooldownsPerOwner: 64,
} as const;

interface KeyRecord {
  readonly kid: string;
  readonly kind: KeyKind;
  readonly epoch: number;
  readonly pair?: SigningKeyPair;
  readonly secret?: Buffer;
}

/** The plaintext of a sealed record. */
const recordBodySchema = z.strictObject({
  kind: z.enum(['sign', 'enc']),
  epoch: z.int().min(0),
  material: z.base64(),
});

/** A reload of one owner's records; `seq` orders it among every reload this keystore started. */
interface Reload {
  readonly seq: number;
  readonly done: Promise<void>;
}

/** What this process holds of one owner. Reloads update it in place, so waiters see their result. */
interface OwnerState {
  /** Usable keys (current, or within their grace window when loaded), by key id. */
  keys: Map<string, KeyRecord>;
  /** Records that did not unseal or parse, by key id: never used, reported to a lookup of that id. */
  broken: Map<string, KeystoreError>;
  /** When a lookup of a key id that was not held last started a reload (its cooldown), by key id. */
  readonly misses: Map<string, number>;
  /** The reload in flight, if any. */
  reload: Reload | undefined;
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
  /**
   * The public key for `kid` if it exists and is current or within its grace window. A key id this
   * process does not hold yet is read from the backend (see {@link createKeystore}). Rejects with a
   * {@link KeystoreError} when the record of `kid` exists but cannot be used (does not unseal or parse).
   */
  verificationKey(owner: string, kid: string): Promise<KeyObject | undefined>;
  /** The owner's current AES-256 key, created if this epoch has none yet. */
  currentEncryptionKey(owner: string): Promise<{ kid: string; key: Buffer }>;
  /** The AES-256 key for `kid`, found as by {@link Keystore.verificationKey}. */
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
  /** Receives a warning for each key record that does not unseal or parse. @default silentLogger */
  readonly logger?: Logger;
}

/**
 * Creates a keystore. A lookup of a key id this process does not hold (another process may have made
 * it since the owner was loaded) waits for the owner's reload in flight and checks again; if the key
 * is still missing, it starts a reload of its own unless the same key id started one within
 * `reloadCooldownMs`. The cooldown only limits how often new reloads start (so forged key ids cannot
 * hammer the backend); it never makes a lookup miss a key that the reload in flight brings. Key ids
 * that cannot be usable now cause no I/O at all.
 *
 * A record that does not unseal (wrong master key, or a stray write into the owner's hash) or parse
 * is skipped and logged: it is never used, the owner's other keys stay usable, and a lookup of that
 * key id is rejected with a {@link KeystoreError}.
 */
export function createKeystore(input: CreateKeystoreInput): Keystore {
  if (input.masterKey.length !== 32) throw new KeystoreError('the master key must be 32 bytes', '*');
  const options = compileKeystoreOptions(input.options);
  const now = input.now ?? Date.now;
  const logger = input.logger ?? silentLogger;
  const { masterKey, backend } = input;
  /** Owners that have key records, and owners that have none: each in least recently used order. */
  const owners = new Map<string, OwnerState>();
  const emptyOwners = new Map<string, OwnerState>();
  let reloadsStarted = 0;

  const epochOf = (t: number): number => Math.floor(t / options.rotationIntervalMs);
  /** Whether a key of `epoch` verifies/decrypts at `t`: not of a later epoch, and not past its grace. */
  const usableEpoch = (epoch: number, t: number): boolean =>
    epoch <= epochOf(t) + 1 && t < (epoch + 1) * options.rotationIntervalMs + options.graceMs;
  const aad = (owner: string, field: string): Buffer => Buffer.from(`ars-keystore-v1\0${owner}\0${field}`);

  function seal(owner: string, rec: KeyRecord): Buffer {
    const material = rec.pair ? exportPrivateKey(rec.pair.privateKey) : (rec.secret as Buffer);
    const body = Buffer.from(
      JSON.stringify({ kind: rec.kind, epoch: rec.epoch, material: material.toString('base64') }),
    );
    const sealed = sealAead(masterKey, body, aad(owner, rec.kid));
    return Buffer.concat([sealed.nonce, sealed.ciphertext]);
  }

  /** The key in a sealed record, or the error that says why the record cannot be used. */
  function unseal(owner: string, field: string, blob: Buffer): KeyRecord | KeystoreError {
    let plain: Buffer;
    try {
      plain = openAead(
        masterKey,
        blob.subarray(0, AEAD_NONCE_BYTES),
        blob.subarray(AEAD_NONCE_BYTES),
        aad(owner, field),
      );
    } catch (cause) {
      return new KeystoreError(
        `key '${field}' of '${owner}' cannot be unsealed: wrong master key (check ARS_MASTER_KEY) or a corrupted record`,
        owner,
        field,
        { cause },
      );
    }
    try {
      return parseRecord(field, plain);
    } catch (cause) {
      return new KeystoreError(
        `key record '${field}' of '${owner}' is malformed although it unseals with this master key; delete the field`,
        owner,
        field,
        { cause },
      );
    }
  }

  /** The key in the plaintext of record `field`; throws if it is not a well-formed key of that id. */
  function parseRecord(field: string, plain: Buffer): KeyRecord {
    const body = recordBodySchema.parse(JSON.parse(plain.toString('utf8')));
    const kid = `${body.kind}.${body.epoch}`;
    if (kid !== field) throw new Error(`the record holds key '${kid}'`);
    const material = Buffer.from(body.material, 'base64');
    if (body.kind === 'enc') {
      if (material.length !== AEAD_KEY_BYTES)
        throw new Error(`the AES key has ${material.length} bytes, not ${AEAD_KEY_BYTES}`);
      return { kid, kind: 'enc', epoch: body.epoch, secret: material };
    }
    const pair = importPrivateKey(material);
    if (pair.privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error(`the signing key is ${pair.privateKey.asymmetricKeyType}, not ed25519`);
    return { kid, kind: 'sign', epoch: body.epoch, pair };
  }

  /** Files `state` as the most recently used owner of its map, evicting the least recently used. */
  function file(owner: string, state: OwnerState): void {
    owners.delete(owner);
    emptyOwners.delete(owner);
    const withRecords = state.keys.size > 0 || state.broken.size > 0;
    const map = withRecords ? owners : emptyOwners;
    map.set(owner, state);
    if (map.size > (withRecords ? KEYSTORE_CACHE_LIMITS.owners : KEYSTORE_CACHE_LIMITS.emptyOwners)) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
  }

  /** The owner's state if this process holds it (marked as most recently used), else undefined. */
  function held(owner: string): OwnerState | undefined {
    const state = owners.get(owner) ?? emptyOwners.get(owner);
    if (state) file(owner, state);
    return state;
  }

  /** The owner's state; a new one, with nothing loaded yet, if this process does not hold it. */
  function stateOf(owner: string): OwnerState {
    const state = held(owner);
    if (state) return state;
    const fresh: OwnerState = { keys: new Map(), broken: new Map(), misses: new Map(), reload: undefined };
    file(owner, fresh);
    return fresh;
  }

  /** Joins the owner's reload in flight, or starts one. */
  function reload(owner: string, state: OwnerState): Promise<void> {
    if (state.reload) return state.reload.done;
    const seq = reloadsStarted++;
    const done = refresh(owner, state).finally(() => {
      if (state.reload?.seq === seq) state.reload = undefined;
    });
    state.reload = { seq, done };
    return done;
  }

  /** Resolves once a reload of the owner that started at or after `since` has finished. */
  async function reloadSince(owner: string, state: OwnerState, since: number): Promise<void> {
    while (state.reload && state.reload.seq < since) await state.reload.done;
    await reload(owner, state);
  }

  /** Reads the owner's records into `state`, skipping (and logging) records that cannot be used. */
  async function refresh(owner: string, state: OwnerState): Promise<void> {
    const records = await backend.load(owner);
    const t = now();
    const keys = new Map<string, KeyRecord>();
    const broken = new Map<string, KeystoreError>();
    for (const [field, blob] of records) {
      const rec = unseal(owner, field, blob);
      if (rec instanceof KeystoreError) {
        if (!state.broken.has(field))
          logger.warn({ owner, keyId: field, err: rec }, 'keystore record skipped: it cannot be used');
        broken.set(field, rec);
      } else if (usableEpoch(rec.epoch, t)) keys.set(field, rec);
    }
    state.keys = keys;
    state.broken = broken;
    // Unless the owner was evicted meanwhile and is held again under a newer state.
    const holder = owners.get(owner) ?? emptyOwners.get(owner);
    if (holder === undefined || holder === state) file(owner, state);
  }

  /** Key `kid` from `state`. A record of it that cannot be used is never replaced or used: throws. */
  function heldKey(state: OwnerState, kid: string): KeyRecord | undefined {
    const failure = state.broken.get(kid);
    if (failure) throw failure;
    return state.keys.get(kid);
  }

  async function current(owner: string, kind: KeyKind): Promise<KeyRecord> {
    const t = now();
    const epoch = epochOf(t);
    const kid = `${kind}.${epoch}`;
    const state = stateOf(owner);
    const hit = state.keys.get(kid);
    if (hit) return hit;
    await reload(owner, state);
    const loaded = heldKey(state, kid);
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
    await reloadSince(owner, state, reloadsStarted);
    const winner = heldKey(state, kid);
    if (!winner)
      throw new KeystoreError(`key '${kid}' of '${owner}' vanished right after it was written`, owner, kid);
    return winner;
  }

  /** The epoch of a key id `sign.<epoch>` / `enc.<epoch>`, else undefined. */
  function epochOfKid(kid: string): number | undefined {
    const dot = kid.indexOf('.');
    const kind = kid.slice(0, dot);
    const epoch = Number(kid.slice(dot + 1));
    return (kind === 'sign' || kind === 'enc') && Number.isSafeInteger(epoch) ? epoch : undefined;
  }

  /**
   * Whether a key of `epoch` could be usable now: between the oldest epoch still in its grace window
   * and the next one. Only such key ids cause a reload, so forged ones cannot make the keystore hammer
   * the backend.
   */
  const plausible = (epoch: number, t: number): boolean =>
    epoch <= epochOf(t) + 1 && epoch >= epochOf(t - options.graceMs) - 1;

  /**
   * Whether a lookup that did not find `kid` may start a reload: at most once per reloadCooldownMs
   * per key id. A miss from before the key's epoch began does not count: keys are made only once
   * their epoch has begun, so such a miss (a forged frame's, just before the rollover) says nothing
   * about the key now.
   */
  function mayReload(state: OwnerState, kid: string, epoch: number, t: number): boolean {
    const last = state.misses.get(kid);
    const epochStart = epoch * options.rotationIntervalMs;
    return (
      last === undefined || t - last >= options.reloadCooldownMs || (last < epochStart && epochStart <= t)
    );
  }

  /** Starts the cooldown of `kid`, forgetting cooldowns that ended; bounded per owner. */
  function recordMiss(state: OwnerState, kid: string, t: number): void {
    for (const [k, at] of state.misses) if (t - at >= options.reloadCooldownMs) state.misses.delete(k);
    state.misses.delete(kid);
    state.misses.set(kid, t);
    if (state.misses.size > KEYSTORE_CACHE_LIMITS.cooldownsPerOwner) {
      const oldest = state.misses.keys().next();
      if (!oldest.done) state.misses.delete(oldest.value);
    }
  }

  async function lookup(owner: string, kid: string): Promise<KeyRecord | undefined> {
    const t = now();
    const epoch = epochOfKid(kid);
    if (epoch === undefined || !plausible(epoch, t)) return undefined;
    const state = stateOf(owner);
    // A key made after this owner was loaded (keys are made on first use, by any process) is found
    // by a reload: first the one in flight, if any...
    if (!state.keys.has(kid) && state.reload) await state.reload.done;
    // ...then, if that one read the records too early or there was none, one that started after this
    // lookup began (any reload in flight now did), unless this key id started one within the cooldown.
    if (!state.keys.has(kid) && mayReload(state, kid, epoch, t)) {
      recordMiss(state, kid, t);
      try {
        await reload(owner, state);
      } catch (error) {
        state.misses.delete(kid); // a failed read proves nothing: let the next lookup try again
        throw error;
      }
      if (state.keys.has(kid)) state.misses.delete(kid);
    }
    const rec = state.keys.get(kid);
    if (rec) return usableEpoch(rec.epoch, t) ? rec : undefined;
    const failure = state.broken.get(kid);
    if (failure && usableEpoch(epoch, t)) throw failure;
    return undefined;
  }

  const peek = (owner: string, kind: KeyKind): KeyRecord | undefined =>
    held(owner)?.keys.get(`${kind}.${epochOf(now())}`);

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
