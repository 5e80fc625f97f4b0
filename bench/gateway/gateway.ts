/**
 * The distributed runtime's figures: two gateways (a client and a host of the `sink` agent type)
 * talking through Redis Streams, signed + encrypted — sequential request/response latency
 * (p50/p99) and direct-send throughput (acceptance awaited, 256 in flight) — beside the raw limits
 * measured in the same run: the Node→Redis PING round trip and the in-process runtime's figures.
 * Run: `npx tsx bench/gateway/gateway.ts` (Redis must be up). Env: ARS_REDIS_URL, BENCH_ROUNDS (3).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { z } from 'zod';
import { startGatewayNode } from '../../src/gateway/index.js';
import { createInProcessRuntime, defineAgent, type AgentRuntime } from '../../src/sdk/index.js';
import { randomId } from '../../src/util/ids.js';
import { intFromEnv } from '../env.js';

const url = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = intFromEnv('BENCH_ROUNDS', 3, 1);
const schema = z.object({ n: z.number().int(), text: z.string() });
const payload = { n: 1, text: 'x'.repeat(200) };
const sink = defineAgent({
  type: 'sink',
  messages: { msg: schema, ping: schema },
  handlers: { msg: () => undefined, ping: ({ n }) => n },
});

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};
const median = (xs: number[]): number => pct(xs, 0.5);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function latency(rt: AgentRuntime, n: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 200; i++) await rt.request(`sink/${i % 10}`, 'ping', payload); // warm-up
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await rt.request(`sink/${i % 10}`, 'ping', payload);
    lat.push(performance.now() - t);
  }
  return { p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

async function throughput(rt: AgentRuntime, n: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await rt.send(`sink/${next++ % 100}`, 'msg', payload);
  };
  await Promise.all(Array.from({ length: 256 }, lane));
  return n / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const redis = createClient({ url });
  await redis.connect();
  const pings: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const t = performance.now();
    await redis.ping();
    pings.push(performance.now() - t);
  }
  console.log(
    `# gateway benchmark (node ${process.version}, ${url}, ${ROUNDS} rounds); shared 2-core machine: noisy`,
  );
  console.log(
    `raw: Node→Redis PING round trip p50 ${pct(pings, 0.5).toFixed(3)} ms, p99 ${pct(pings, 0.99).toFixed(3)} ms`,
  );
  const local = createInProcessRuntime();
  await local.register(sink);
  const l = await latency(local, 5_000);
  console.log(
    `raw: in-process runtime request/response p50 ${(l.p50 * 1000).toFixed(0)} µs, p99 ${(l.p99 * 1000).toFixed(0)} µs`,
  );
  await local.close();

  const prefix = randomId('bench-gw');
  const masterKey = randomBytes(32);
  const host = await startGatewayNode({
    redisUrl: url,
    prefix,
    masterKey,
    agents: [sink],
    gateway: { id: `host-${prefix}` },
  });
  const client = await startGatewayNode({
    redisUrl: url,
    prefix,
    masterKey,
    gateway: { id: `client-${prefix}` },
  });
  try {
    const p50s: number[] = [];
    const p99s: number[] = [];
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const { p50, p99 } = await latency(client.gateway, 1_000);
      p50s.push(p50);
      p99s.push(p99);
      rates.push(await throughput(client.gateway, 20_000));
    }
    console.log(
      `distributed request/response (2 gateways, signed + encrypted, 1 KB-ish JSON, sequential): p50 ${median(p50s).toFixed(2)} ms (${p50s.map((x) => x.toFixed(2)).join(', ')})  p99 ${median(p99s).toFixed(2)} ms (${p99s.map((x) => x.toFixed(2)).join(', ')})`,
    );
    console.log(
      `distributed direct sends, acceptance awaited, 256 in flight: ${fmt(median(rates))} msg/s (${rates.map(fmt).join(', ')})`,
    );
  } finally {
    await client.close();
    await host.close();
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) keys.push(...batch);
    for (let i = 0; i < keys.length; i += 500) await redis.del(keys.slice(i, i + 500));
    await redis.close();
  }
}

await main();
