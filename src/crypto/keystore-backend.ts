import type { RedisCommander } from './redis-commander.js';

/**
 * Where sealed key records live. Records are opaque (already encrypted with the master key); a
 * field is written only if absent, so two processes rotating at once agree on one key per epoch.
 */
export interface KeystoreBackend {
  /** All sealed records of one owner, by field name. */
  load(owner: string): Promise<Map<string, Buffer>>;
  /** Writes `blob` under `field` unless the field exists; true when this call wrote it. */
  putIfAbsent(owner: string, field: string, blob: Buffer): Promise<boolean>;
  /** Removes retired records. */
  remove(owner: string, fields: readonly string[]): Promise<void>;
}

/** An in-process backend (tests, single-process tools). */
export function createMemoryKeystoreBackend(): KeystoreBackend & {
  readonly records: Map<string, Map<string, Buffer>>;
} {
  const records = new Map<string, Map<string, Buffer>>();
  return {
    records,
    load: (owner) => Promise.resolve(new Map(records.get(owner) ?? [])),
    putIfAbsent: (owner, field, blob) => {
      const m = records.get(owner) ?? new Map<string, Buffer>();
      records.set(owner, m);
      if (m.has(field)) return Promise.resolve(false);
      m.set(field, blob);
      return Promise.resolve(true);
    },
    remove: (owner, fields) => {
      for (const f of fields) records.get(owner)?.delete(f);
      return Promise.resolve();
    },
  };
}

/** A Redis backend: one hash per owner at `${prefix}:ks:${owner}`, fields written with HSETNX. */
export function createRedisKeystoreBackend(redis: RedisCommander, prefix: string): KeystoreBackend {
  const key = (owner: string): string => `${prefix}:ks:${owner}`;
  return {
    async load(owner) {
      const flat = await redis.sendCommand<Buffer[]>(['HGETALL', key(owner)], {
        typeMapping: { 36: Buffer, 37: Array },
      });
      const out = new Map<string, Buffer>();
      for (let i = 0; i + 1 < flat.length; i += 2)
        out.set((flat[i] as Buffer).toString('utf8'), flat[i + 1] as Buffer);
      return out;
    },
    async putIfAbsent(owner, field, blob) {
      return (await redis.sendCommand<number>(['HSETNX', key(owner), field, blob])) === 1;
    },
    async remove(owner, fields) {
      if (fields.length > 0) await redis.sendCommand(['HDEL', key(owner), ...fields]);
    },
  };
}
