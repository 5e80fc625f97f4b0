/**
 * Request/response latency of the bus under light load: sequential requests (one in flight), 256 B
 * payloads, security off and signed + encrypted, each round ~1000 requests after a warm-up; the
 * figures are the medians of the rounds' p50 and p99. Printed beside the raw limits measured in the
 * same run and interleaved with the bus rounds (so both see the same machine load):
 * - the Node→Redis PING round trip (one connection, sequential);
 * - the raw floors of a request/response over streams, plain node-redis, no crypto, no checks: one hop
 *   (a client XADDs to stream A, its reader blocked in XREADGROUP on A wakes); two hops (an echo loop
 *   blocked on A wakes and XADDs to B, the client's reader blocked on B wakes), with the echo loop in
 *   this process or in a second one (bench/bus/raw-echo.ts).
 * The bus is measured in two shapes, each with security off and signed + encrypted:
 * - one process, client and server on one bus: the request crosses Redis, and the reply is handed to
 *   the waiting request in-process (bus.ts, handOver), so its floor is the raw one hop; the bus's
 *   signature memo skips the verification of the request (this bus signed it);
 * - the server in a second process (bench/bus/receiver.ts as an echo server, its own bus and keystore
 *   on the same Redis): both hops cross Redis and, signed, each side verifies the other's signatures; its
 *   floor is the raw two-hop with the echo in a second process. This is the shape of agents on two
 *   gateways; on this 2-core machine the client, the server and Redis take turns on two CPUs.
 * Then a short trace (Redis MONITOR, after the timed rounds, so it does not slow them) lists the
 * Redis commands of a few requests in the order Redis ran them, with the gaps between them: it shows
 * which round trips lie on the request path.
 * When the Redis has a Unix socket (scripts/services.sh gives it one), the PING, the raw one hop and
 * two-hop and the signed one-process bus are measured over it too, in the same rounds.
 * Run: npx tsx bench/bus/request-latency.ts
 * Env: ARS_REDIS_URL, BENCH_ROUNDS (default 5), BENCH_REQUESTS (per round, default 1000),
 * BENCH_TRACE (requests to trace, default 3; 0 = no trace), BENCH_WARMUP (untimed requests per series
 * before the rounds, default 2000).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createClient } from 'redis';
import { createBus, type Bus } from '../../src/bus/index.js';
import {
  aesGcmProvider,
  createKeystore,
  createRedisKeystoreBackend,
  ed25519Provider,
} from '../../src/crypto/index.js';
import { randomId, redisClientOptions } from '../../src/util/index.js';
import { deleteKeys, servicesRedisSocket } from '../../test/helpers/runtime.js';
import { createRawStreams, rawStreams, readNew, startRawEcho } from './raw-echo.js';
import { startReceiver } from './receiver-child.js';
import { cpuTimes, intFromEnv, STEAL_LABEL, stealSince } from '../env.js';

type Client = ReturnType<typeof createClient>;
const url = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ROUNDS = intFromEnv('BENCH_ROUNDS', 5, 1);
const REQUESTS = intFromEnv('BENCH_REQUESTS', 1000, 1);
const TRACE = intFromEnv('BENCH_TRACE', 3);
/**
 * Untimed requests per series before the rounds. A runtime is long-lived: the target is the steady
 * state, and the first ~2,000 requests of a fresh process run code V8 is still compiling (their p99
 * is 2-3× higher here). The cold figure is printed too: the first requests of each fresh signed bus.
 */
const WARMUP = intFromEnv('BENCH_WARMUP', 2000);
/** The Unix socket of the same Redis (scripts/services.sh starts Redis with one). */
const SOCKET = servicesRedisSocket();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
const f3 = (x: number): string => x.toFixed(3);

interface Round {
  p50: number;
  p99: number;
  /** CPU time (user + system) of this process per call, µs. */
  cpu: number;
}

/** Times `n` sequential calls of `fn` after `warm` untimed ones. */
async function timed(n: number, warm: number, fn: () => Promise<unknown>): Promise<Round> {
  const lat: number[] = [];
  let c0 = process.cpuUsage();
  for (let i = 0; i < warm + n; i++) {
    if (i === warm) c0 = process.cpuUsage();
    const t = performance.now();
    await fn();
    if (i >= warm) lat.push(performance.now() - t);
  }
  const c = process.cpuUsage(c0);
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 0.5), p99: pct(lat, 0.99), cpu: (c.user + c.system) / Math.max(1, n) };
}

/**
 * The raw floors, plain node-redis: two hops (XADD → blocked XREADGROUP → XADD → blocked XREADGROUP),
 * with the echo loop in this process or in a second one; or one hop (XADD → blocked XREADGROUP).
 */
async function rawFloor(
  prefix: string,
  redisUrl = url,
  echo: 'here' | 'child' | 'none' = 'here',
): Promise<{ call(): Promise<void>; close(): Promise<void> }> {
  const { a, b } = rawStreams(prefix);
  const main: Client = createClient(redisClientOptions(redisUrl));
  const clientRead: Client = createClient(redisClientOptions(redisUrl));
  await Promise.all([main.connect(), clientRead.connect()]);
  await createRawStreams(main, prefix);
  const echoLoop =
    echo === 'here'
      ? await startRawEcho(redisUrl, prefix)
      : echo === 'child'
        ? await startReceiver({
            kind: 'start',
            url: redisUrl,
            prefix,
            keystorePrefix: `${prefix}:ks`,
            security: 'off',
            masterKey: '',
            role: 'raw-echo',
          })
        : undefined;
  let running = true;
  let waiting: (() => void) | undefined;
  const replies = (async () => {
    while (running) {
      const r = await readNew(clientRead, echo === 'none' ? a : b);
      if (r && waiting) {
        const w = waiting;
        waiting = undefined;
        w();
      }
    }
  })();
  const payload = randomBytes(256).toString('latin1');
  return {
    async call() {
      const got = new Promise<void>((r) => (waiting = r));
      await main.sendCommand(['XADD', a, 'MAXLEN', '~', '1000', '*', 'v', payload]);
      await got;
    },
    async close() {
      running = false;
      await replies;
      await echoLoop?.stop();
      await main.del([a, b]);
      await Promise.all([main.close(), clientRead.close()]);
    },
  };
}

async function echoBus(
  security: 'off' | 'signed-encrypted',
  prefix: string,
  admin: Client,
  redisUrl = url,
): Promise<Bus> {
  const keystore = createKeystore({
    masterKey: randomBytes(32),
    backend: createRedisKeystoreBackend(admin, `${prefix}:ks`),
  });
  const bus = await createBus({ keystore, options: { redisUrl, prefix, security } });
  await bus.consume('server', async (m) => {
    if (m.kind === 'request') await bus.reply(m, { from: 'server', payload: m.payload });
  });
  await bus.consume('client', () => undefined);
  return bus;
}

/**
 * The signed bus with its server in a second process (bench/bus/receiver.ts in the 'echo' role): the
 * same Redis, prefix and master key, so each side finds the other's keys in the shared keystore.
 */
async function twoProcessEcho(
  prefix: string,
  admin: Client,
  security: 'off' | 'signed-encrypted',
): Promise<{ bus: Bus; close(): Promise<void> }> {
  const masterKey = randomBytes(32);
  const child = await startReceiver({
    kind: 'start',
    url,
    prefix,
    keystorePrefix: `${prefix}:ks`,
    security,
    masterKey: masterKey.toString('hex'),
    role: 'echo',
  });
  const keystore = createKeystore({ masterKey, backend: createRedisKeystoreBackend(admin, `${prefix}:ks`) });
  const bus = await createBus({ keystore, options: { redisUrl: url, prefix, security } });
  await bus.consume('client', () => undefined);
  return {
    bus,
    async close() {
      await bus.close();
      await child.stop();
    },
  };
}

/** Lists the Redis commands of `n` requests as Redis ran them (MONITOR), with the gaps between them. */
async function trace(bus: Bus, admin: Client, prefix: string, n: number, label: string): Promise<void> {
  const mon = admin.duplicate();
  await mon.connect();
  const lines: { t: number; addr: string; cmd: string }[] = [];
  await mon.monitor((line: string) => {
    if (!line.includes(prefix)) return;
    const m = /^(\d+\.\d+) \[\d+ ([^\]]+)\] (.*)$/.exec(line);
    if (!m) return;
    const words = (m[3] as string).split(' ').slice(0, 3).join(' ').replaceAll(prefix, '{p}');
    lines.push({ t: Number(m[1]) * 1e6, addr: m[2] as string, cmd: words.slice(0, 70) });
  });
  await new Promise((r) => setTimeout(r, 50));
  const marks: number[] = [];
  for (let i = 0; i < n; i++) {
    await new Promise((r) => setTimeout(r, 20)); // let the reader loops settle into their blocking reads
    marks.push(lines.length);
    await bus.request({ from: 'client', to: 'server', payload: randomBytes(256), timeoutMs: 5000 });
  }
  await new Promise((r) => setTimeout(r, 50));
  mon.destroy();
  const conns = new Map<string, string>();
  console.log(
    `trace (${label}): Redis commands per request, as Redis ran them (MONITOR; µs since the request's first command)`,
  );
  for (let i = 0; i < n; i++) {
    const slice = lines.slice(marks[i], i + 1 < n ? marks[i + 1] : lines.length);
    const t0 = slice[0]?.t ?? 0;
    console.log(`  request ${i + 1}: ${slice.length} commands`);
    for (const l of slice) {
      if (!conns.has(l.addr)) conns.set(l.addr, `conn${conns.size + 1}`);
      console.log(`    +${String(Math.round(l.t - t0)).padStart(5)} µs  ${conns.get(l.addr)}  ${l.cmd}`);
    }
  }
}

async function main(prefix: string): Promise<void> {
  const admin: Client = createClient(redisClientOptions(url));
  await admin.connect();
  console.log(
    `# request/response latency (node ${process.version}, redis ${url}, Ed25519 by ${ed25519Provider}, AES-GCM by ${aesGcmProvider}); ${ROUNDS} rounds × ${REQUESTS} sequential requests, 256 B, after ${WARMUP} untimed ones per series; median of the rounds' p50/p99; shared 2-core machine: noisy`,
  );
  const raw = await rawFloor(prefix);
  const raw1 = await rawFloor(`${prefix}:1h`, url, 'none');
  const raw2p = await rawFloor(`${prefix}:2pr`, url, 'child');
  const twoProc = await twoProcessEcho(`${prefix}:2p`, admin, 'signed-encrypted');
  const twoProcOff = await twoProcessEcho(`${prefix}:2po`, admin, 'off');
  const buses = {
    off: await echoBus('off', `${prefix}:off`, admin),
    'signed-encrypted': await echoBus('signed-encrypted', `${prefix}:se`, admin),
  };
  // the same over the Unix socket of the same Redis, when it has one (scripts/services.sh gives it one)
  const sock = url.startsWith('unix://') || !existsSync(SOCKET) ? undefined : `unix://${SOCKET}`;
  type Floor = Awaited<ReturnType<typeof rawFloor>>;
  let viaSocket: { admin: Client; raw1: Floor; raw: Floor; bus: Bus } | undefined;
  if (sock) {
    const sAdmin: Client = createClient(redisClientOptions(sock));
    await sAdmin.connect();
    viaSocket = {
      admin: sAdmin,
      raw1: await rawFloor(`${prefix}:u1`, sock, 'none'),
      raw: await rawFloor(`${prefix}:u`, sock),
      bus: await echoBus('signed-encrypted', `${prefix}:use`, sAdmin, sock),
    };
  } else if (!url.startsWith('unix://'))
    console.log(`(no Unix socket at ${SOCKET}: the socket series is left out)`);
  // the payloads are made before the rounds: a randomBytes call per request would time the bench's
  // own random-number jobs (each a native object the GC finalises) along with the bus
  const payloads = Array.from({ length: 64 }, () => randomBytes(256));
  let sent = 0;
  const req = (bus: Bus) => () =>
    bus.request({
      from: 'client',
      to: 'server',
      payload: payloads[sent++ % payloads.length] as Buffer,
      timeoutMs: 5000,
    });
  const results: Record<string, Round[]> = {
    ping: [],
    raw: [],
    raw1: [],
    raw2p: [],
    twoprocoff: [],
    off: [],
    'signed-encrypted': [],
    uping: [],
    uraw1: [],
    uraw: [],
    use: [],
    twoproc: [],
  };
  // warm-up (JIT, keys, script cache), then interleaved rounds so every series sees the same load
  await timed(0, WARMUP, () => admin.ping());
  await timed(0, WARMUP, () => raw.call());
  await timed(0, WARMUP, () => raw1.call());
  await timed(0, WARMUP, () => raw2p.call());
  // the first requests of the fresh signed buses are timed: the cold figure
  const cold = {
    one: await timed(REQUESTS, 0, req(buses['signed-encrypted'])),
    two: await timed(REQUESTS, 0, req(twoProc.bus)),
  };
  await timed(0, WARMUP, req(buses.off));
  await timed(0, Math.max(0, WARMUP - REQUESTS), req(buses['signed-encrypted']));
  await timed(0, Math.max(0, WARMUP - REQUESTS), req(twoProc.bus));
  await timed(0, WARMUP, req(twoProcOff.bus));
  if (viaSocket) {
    const v = viaSocket;
    await timed(0, WARMUP, () => v.admin.ping());
    await timed(0, WARMUP, () => v.raw1.call());
    await timed(0, WARMUP, () => v.raw.call());
    await timed(0, WARMUP, req(v.bus));
  }
  const steal: string[] = [];
  const runStart = cpuTimes();
  for (let r = 0; r < ROUNDS; r++) {
    const roundStart = cpuTimes();
    (results.ping as Round[]).push(await timed(REQUESTS, 20, () => admin.ping()));
    (results.raw as Round[]).push(await timed(REQUESTS, 20, () => raw.call()));
    (results.raw1 as Round[]).push(await timed(REQUESTS, 20, () => raw1.call()));
    (results.raw2p as Round[]).push(await timed(REQUESTS, 20, () => raw2p.call()));
    for (const s of ['off', 'signed-encrypted'] as const)
      (results[s] as Round[]).push(await timed(REQUESTS, 20, req(buses[s])));
    (results.twoproc as Round[]).push(await timed(REQUESTS, 20, req(twoProc.bus)));
    (results.twoprocoff as Round[]).push(await timed(REQUESTS, 20, req(twoProcOff.bus)));
    if (viaSocket) {
      const v = viaSocket;
      (results.uping as Round[]).push(await timed(REQUESTS, 20, () => v.admin.ping()));
      (results.uraw1 as Round[]).push(await timed(REQUESTS, 20, () => v.raw1.call()));
      (results.uraw as Round[]).push(await timed(REQUESTS, 20, () => v.raw.call()));
      (results.use as Round[]).push(await timed(REQUESTS, 20, req(v.bus)));
    }
    steal.push(stealSince(roundStart));
  }
  const stealRun = stealSince(runStart);
  const line = (label: string, rs: Round[]): string => {
    const p50 = rs.map((x) => x.p50);
    const p99 = rs.map((x) => x.p99);
    const cpu = median(rs.map((x) => x.cpu));
    return `${label.padEnd(44)} p50 ${f3(median(p50))} ms  p99 ${f3(median(p99))} ms  CPU ${Math.round(cpu)} µs/call   (rounds p99: ${p99.map(f3).join(', ')})`;
  };
  if (stealRun) console.log(`${STEAL_LABEL} during the rounds: ${stealRun} (rounds: ${steal.join(', ')})`);
  console.log('raw limits (same run, interleaved with the bus rounds):');
  console.log(line('  Node→Redis PING round trip', results.ping as Round[]));
  console.log(line('  raw one hop XADD→XREADGROUP', results.raw1 as Round[]));
  console.log(line('  raw two-hop XADD→XREADGROUP→XADD→XREADGROUP', results.raw as Round[]));
  console.log(
    line('  raw two-hop, echo in a 2nd process', results.raw2p as Round[]) + '   (CPU = this process only)',
  );
  console.log('bus request/response (sequential, 256 B):');
  console.log('  one process (the reply is handed to the waiting request in-process: one Redis hop)');
  console.log(line('    security off', results.off as Round[]));
  console.log(
    line('    signed + encrypted', results['signed-encrypted'] as Round[]) + '   (target p99 < 2 ms)',
  );
  console.log('  server in a 2nd process (two Redis hops; CPU = the client process only)');
  console.log(line('    security off', results.twoprocoff as Round[]));
  console.log(line('    signed + encrypted', results.twoproc as Round[]) + '   (target p99 < 2 ms)');
  const coldLine = (label: string, r: Round): string =>
    `${label.padEnd(44)} p50 ${f3(r.p50)} ms  p99 ${f3(r.p99)} ms  CPU ${Math.round(r.cpu)} µs/call`;
  console.log(`cold: the first ${REQUESTS} requests of a fresh bus (one series each, before the warm-up):`);
  console.log(coldLine('  signed + encrypted', cold.one));
  console.log(coldLine('  signed + encrypted, server in a 2nd process', cold.two));
  if (viaSocket) {
    console.log(`over the Unix socket ${sock} (same Redis, same rounds):`);
    console.log(line('  raw: PING round trip', results.uping as Round[]));
    console.log(line('  raw: one hop', results.uraw1 as Round[]));
    console.log(line('  raw: two-hop', results.uraw as Round[]));
    console.log(
      line('  bus: signed + encrypted, one process', results.use as Round[]) + '   (target p99 < 2 ms)',
    );
    await viaSocket.raw1.close();
    await viaSocket.raw.close();
    await viaSocket.bus.close();
    await viaSocket.admin.close();
  }
  await raw.close();
  await raw1.close();
  await raw2p.close();
  await twoProc.close();
  await twoProcOff.close();
  if (TRACE > 0)
    for (const s of ['off', 'signed-encrypted'] as const) await trace(buses[s], admin, prefix, TRACE, s);
  for (const b of Object.values(buses)) await b.close();
  await admin.close();
}

const runPrefix = `bench:${randomId('rrl')}`;
try {
  await main(runPrefix);
} finally {
  // also after a failure (the second processes exit with this one: receiver.ts)
  await deleteKeys(url, `${runPrefix}:*`);
}
