/**
 * A busy consumer: a server whose handler does its own I/O (three Redis round trips, ~0.5 ms) while
 * requests keep arriving (4 clients, one request in flight each), so the next request is usually
 * added while the previous one is being handled. The consumer's read-ahead (docs/bus.md) hands it over
 * the moment it is added; without it, each batch would wait for a round trip to re-issue the read.
 * Prints requests per second and the request latency, median of the rounds, beside the raw limit
 * measured in the same rounds: the handler's own I/O alone, back to back (a server can never answer
 * faster than its handler runs). Run: npx tsx bench/bus/busy-consumer.ts
 * Env: ARS_REDIS_URL, BENCH_ROUNDS (default 5), BENCH_REQUESTS (per round, default 2000).
 */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { createBus } from '../../src/bus/index.js';
import { createKeystore, createRedisKeystoreBackend } from '../../src/crypto/index.js';
import { randomId, redisClientOptions } from '../../src/util/index.js';
import { deleteKeys } from '../../test/helpers/runtime.js';
import { intFromEnv } from '../env.js';

const url = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = intFromEnv('BENCH_ROUNDS', 5, 1);
const REQUESTS = intFromEnv('BENCH_REQUESTS', 2000, 1);
const CLIENTS = 4;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

const prefix = `bench:${randomId('busy')}`;
const admin = createClient(redisClientOptions(url));
const work = createClient(redisClientOptions(url));
await Promise.all([admin.connect(), work.connect()]);
const keystore = createKeystore({
  masterKey: randomBytes(32),
  backend: createRedisKeystoreBackend(admin, `${prefix}:ks`),
});
const handlerIo = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) await work.get(`${prefix}:work`);
};
const bus = await createBus({ keystore, options: { redisUrl: url, prefix, security: 'off' } });
await bus.consume('server', async (m) => {
  if (m.kind !== 'request') return;
  await handlerIo();
  await bus.reply(m, { from: 'server', payload: m.payload });
});
for (let c = 0; c < CLIENTS; c++) await bus.consume(`client${c}`, () => undefined);
const payload = randomBytes(256);

async function round(n: number): Promise<{ rate: number; p50: number; p99: number; io: number }> {
  const lat: number[] = [];
  let left = n;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      while (left-- > 0) {
        const t = performance.now();
        await bus.request({ from: `client${c}`, to: 'server', payload, timeoutMs: 10_000 });
        lat.push(performance.now() - t);
      }
    }),
  );
  const rate = n / ((performance.now() - t0) / 1000);
  // the raw limit: the handler's I/O alone, back to back, in the same round
  const i0 = performance.now();
  for (let i = 0; i < 500; i++) await handlerIo();
  const io = 500 / ((performance.now() - i0) / 1000);
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] as number;
  return { rate, p50: pct(0.5), p99: pct(0.99), io };
}

await round(REQUESTS / 4); // warm-up
const rs = [];
for (let r = 0; r < ROUNDS; r++) rs.push(await round(REQUESTS));
console.log(
  `# busy consumer (node ${process.version}, redis ${url}, security off, ${CLIENTS} clients, ${ROUNDS} rounds × ${REQUESTS} requests; shared 2-core machine: noisy)`,
);
console.log(
  `requests/s: ${fmt(median(rs.map((r) => r.rate)))} (rounds ${rs.map((r) => fmt(r.rate)).join(', ')})  latency p50 ${median(rs.map((r) => r.p50)).toFixed(3)} ms, p99 ${median(rs.map((r) => r.p99)).toFixed(3)} ms`,
);
console.log(
  `raw limit, same rounds: the handler's own I/O alone, back to back: ${fmt(median(rs.map((r) => r.io)))}/s`,
);
await bus.close();
await Promise.all([admin.close(), work.close()]);
await deleteKeys(url, `${prefix}:*`);
