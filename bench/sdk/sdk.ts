/**
 * In-process runtime figures: direct messages/s, request/response latency, activation of 10,000
 * distinct agent ids (time and RSS). Raw limit printed beside them: a bare async function call loop
 * and a zod parse of the same payload in the same run. `npx tsx bench/sdk/sdk.ts`
 */
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createInProcessRuntime, defineAgent } from '../../src/sdk/index.js';

const payload = { n: 1, text: 'hello world' };
const schema = z.object({ n: z.number().int(), text: z.string() });
let handled = 0;
let done: (() => void) | undefined;
let target = 0;
const sink = defineAgent({
  type: 'sink',
  state: z.object({ count: z.number() }).default({ count: 0 }),
  messages: { msg: schema, ping: schema },
  handlers: {
    msg: () => {
      if (++handled === target) done?.();
    },
    ping: ({ n }) => n,
  },
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

async function directRound(count: number): Promise<number> {
  const rt = createInProcessRuntime();
  await rt.register(sink);
  handled = 0;
  target = count;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    // Many senders' worth of traffic to 100 instances, without awaiting each acceptance.
    void rt.send(`sink/${i % 100}`, 'msg', payload);
  }
  await finished;
  const rate = count / ((performance.now() - t0) / 1000);
  await rt.close();
  return rate;
}

async function main(): Promise<void> {
  // Raw limits in this run.
  const fn = (x: number) => Promise.resolve(x + 1);
  let t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) await fn(i);
  const rawAwait = 1_000_000 / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < 1_000_000; i++) schema.safeParse(payload);
  const rawZod = 1_000_000 / ((performance.now() - t0) / 1000);
  console.log(
    `raw: awaited async call ${(rawAwait / 1e6).toFixed(2)}M/s; zod safeParse of the payload ${(rawZod / 1e6).toFixed(2)}M/s`,
  );

  await directRound(50_000); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < 3; r++) rates.push(await directRound(200_000));
  console.log(
    `direct send, in-process: median ${Math.round(median(rates)).toLocaleString()} msg/s (rounds: ${rates.map((x) => Math.round(x)).join(', ')})`,
  );

  const rt = createInProcessRuntime();
  await rt.register(sink);
  const lat: number[] = [];
  for (let i = 0; i < 2_000; i++) await rt.request('sink/r', 'ping', payload);
  for (let i = 0; i < 20_000; i++) {
    const s = performance.now();
    await rt.request('sink/r', 'ping', payload);
    lat.push((performance.now() - s) * 1000);
  }
  console.log(
    `request/response, sequential: p50 ${pct(lat, 50).toFixed(1)} µs, p99 ${pct(lat, 99).toFixed(1)} µs`,
  );
  await rt.close();

  global.gc?.();
  const rt2 = createInProcessRuntime();
  await rt2.register(sink);
  const rss0 = process.memoryUsage().rss;
  t0 = performance.now();
  const N = 10_000;
  await Promise.all(Array.from({ length: N }, (_, i) => rt2.request(`sink/a${i}`, 'ping', payload)));
  const ms = performance.now() - t0;
  global.gc?.();
  const rss1 = process.memoryUsage().rss;
  console.log(
    `activation of ${N.toLocaleString()} distinct agent ids (first message each, awaited): ${ms.toFixed(0)} ms, RSS +${((rss1 - rss0) / 1048576).toFixed(1)} MiB (total ${(rss1 / 1048576).toFixed(0)} MiB)`,
  );
  await rt2.close();
}

await main();
