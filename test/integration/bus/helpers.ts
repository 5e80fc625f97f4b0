import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import {
  createKeystore,
  createRedisKeystoreBackend,
  generateSigningKeyPair,
  sealAead,
  signEd25519,
  type Keystore,
} from '../../../src/crypto/index.js';
import {
  createBus,
  decodeFrameHeader,
  encodeEnvelopeHeader,
  encodeFrameHeader,
  frameSignedBytes,
  type Bus,
  type BusMessage,
  type CreateBusInput,
  type EnvelopeHeader,
  type WireFrame,
} from '../../../src/bus/index.js';
import { randomId, redisClientOptions } from '../../../src/util/index.js';

export const REDIS_URL = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface Env {
  readonly prefix: string;
  readonly redis: ReturnType<typeof createClient>;
  readonly keystore: Keystore;
  readonly buses: Bus[];
  bus(input?: CreateBusInput): Promise<Bus>;
  /**
   * XADDs a frame to an agent's inbox as a sender (or an attacker with Redis access) would, with
   * `extra` field/value pairs after its own; returns the entry id.
   */
  inject(agent: string, frame: WireFrame, extra?: (string | Buffer)[]): Promise<string>;
  cleanup(): Promise<void>;
}

export async function testEnv(url = REDIS_URL): Promise<Env> {
  const prefix = `test:${randomId('bus')}`;
  const redis = createClient(redisClientOptions(url));
  await redis.connect();
  const keystore = createKeystore({
    masterKey: randomBytes(32),
    backend: createRedisKeystoreBackend(redis, prefix),
  });
  const buses: Bus[] = [];
  return {
    prefix,
    redis,
    keystore,
    buses,
    async bus(input = {}) {
      const b = await createBus({
        keystore,
        ...input,
        options: { redisUrl: url, prefix, claimIntervalMs: 100, blockMs: 100, ...input.options },
      });
      buses.push(b);
      return b;
    },
    inject(agent, frame, extra = []) {
      const { h, s, c, t } = frame;
      return redis.sendCommand<string>([
        'XADD',
        `${prefix}:inbox:${agent}`,
        '*',
        'h',
        h,
        's',
        s,
        'c',
        c,
        't',
        t,
        ...extra,
      ]);
    },
    async cleanup() {
      for (const b of buses) await b.close().catch(() => undefined);
      let cursor = '0';
      do {
        const r = await redis.scan(cursor, { MATCH: `${prefix}:*`, COUNT: 1000 });
        cursor = String(r.cursor);
        if (r.keys.length > 0) await redis.del(r.keys);
      } while (cursor !== '0');
      await redis.close();
    },
  };
}

/** Collects messages and lets a test wait for a count. */
export function collector(): {
  messages: BusMessage[];
  handler: (m: BusMessage) => void;
  waitFor(n: number, ms?: number): Promise<BusMessage[]>;
} {
  const messages: BusMessage[] = [];
  const waiters: (() => void)[] = [];
  return {
    messages,
    handler: (m) => {
      messages.push(m);
      for (const w of waiters.splice(0)) w();
    },
    async waitFor(n, ms = 5000) {
      const deadline = Date.now() + ms;
      while (messages.length < n) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${n} messages, got ${messages.length}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return messages;
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `ok()` holds; fails the test after `ms` instead of hanging. */
export async function until(ok: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Builds a one-message frame the way a sender would, with hooks to forge or tamper with it. */
export async function craftFrame(
  keystore: Keystore,
  input: {
    from: string;
    to: string;
    payload?: Buffer;
    header?: Partial<EnvelopeHeader>;
    kid?: string;
    ekid?: string;
    corruptCiphertext?: boolean;
    tamperHeaderAfterSigning?: boolean;
    forgeSignature?: boolean;
    /** More messages after the first one in the same frame. */
    more?: { payload: Buffer; header?: Partial<EnvelopeHeader> }[];
  },
): Promise<WireFrame & { id: string; ids: string[] }> {
  const id = randomId('m', 8);
  const enc = await keystore.currentEncryptionKey(`agent:${input.to}`);
  const payload = input.payload ?? Buffer.from('secret');
  const env: EnvelopeHeader = {
    id,
    kind: 'direct',
    to: input.to,
    ts: Date.now(),
    ttl: 60_000,
    delivery: 'at-least-once',
    corr: null,
    len: payload.length,
    ...input.header,
  };
  const extra = (input.more ?? []).map((m) => ({
    payload: m.payload,
    env: { ...env, id: randomId('m', 8), len: m.payload.length, ...m.header },
  }));
  const sk = await keystore.currentSigningKey(`agent:${input.from}`);
  const frame = (e: EnvelopeHeader, nonce: Buffer): Buffer =>
    encodeFrameHeader({
      fid: randomBytes(16),
      from: input.from,
      kid: input.kid ?? sk.kid,
      ekid: input.ekid ?? enc.kid,
      nonce,
      envs: [encodeEnvelopeHeader(e), ...extra.map((x) => encodeEnvelopeHeader(x.env))],
    });
  const nonce = randomBytes(12);
  const h = frame(env, nonce);
  const plain = Buffer.concat([payload, ...extra.map((x) => x.payload)]);
  const sealed = sealAead(enc.key, plain, h, nonce).ciphertext;
  let c = sealed.subarray(0, sealed.length - 16);
  const t = sealed.subarray(sealed.length - 16);
  if (input.corruptCiphertext) {
    c = Buffer.from(c);
    c[0] = (c[0] as number) ^ 0xff;
  }
  const signer = input.forgeSignature ? generateSigningKeyPair().privateKey : sk.privateKey;
  const s = signEd25519(signer, frameSignedBytes(h, c, t));
  let wire = h;
  if (input.tamperHeaderAfterSigning) {
    // same frame id, nonce and everything else; only the ttl differs
    const d = decodeFrameHeader(h);
    wire = encodeFrameHeader({ ...d, envs: [encodeEnvelopeHeader({ ...env, ttl: env.ttl + 1 })] });
  }
  return { h: wire, s, c, t, id, ids: [id, ...extra.map((x) => x.env.id)] };
}
