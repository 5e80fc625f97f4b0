// Audit appends per second (hash + Ed25519 signature + CAS Lua append, group-committed in batches)
// and verification speed, against the real Redis on 127.0.0.1:6379. Run:
//   npx tsx bench/audit/append-verify.ts
import { createHash, sign, verify } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { createClient } from 'redis';
import { AuditLog, defaultVerifyWorkers, generateAuditSigner } from '../../src/audit/index.js';
import { randomId } from '../../src/util/ids.js';

const url = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const client = createClient({ url });
await client.connect();
const signer = generateAuditSigner();
const prefixes: string[] = [];
const event = (i: number) => ({
  kind: 'message.sent' as const,
  agentId: `agent-${i % 50}`,
  data: { messageId: `m-${i}`, sender: `agent-${i % 50}`, recipient: 'b', size: 512 },
});

async function appendRun(n: number, concurrency: number, maxBatch: number): Promise<number> {
  const prefix = randomId('ars-bench-audit');
  prefixes.push(prefix);
  const log = new AuditLog(client, signer, { keyPrefix: prefix, maxBatch, checkpointEvery: 0 });
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await log.append(event(i));
      }
    }),
  );
  return n / ((performance.now() - t) / 1000);
}

try {
  const N = 20_000;
  // The machine is shared: raw Ed25519 signing is measured right before each round, so each round has
  // its own ceiling (one signature per entry, in this thread).
  const rawDigest = createHash('sha256').update('raw').digest();
  const rawSign = (n: number) => {
    const s0 = performance.now();
    for (let i = 0; i < n; i += 1) sign(null, rawDigest, signer.privateKey);
    return n / ((performance.now() - s0) / 1000);
  };
  const batched: number[] = [];
  const signBefore: number[] = [];
  for (let r = 0; r < 3; r += 1) {
    signBefore.push(rawSign(3000));
    batched.push(await appendRun(N, 512, 256));
  }
  const single = await appendRun(2000, 1, 1);
  const log = new AuditLog(client, signer, { keyPrefix: prefixes[0] ?? '' });
  const verifyRun = async (workers: number | undefined) => {
    const t = performance.now();
    const v = await log.verify(workers === undefined ? {} : { workers });
    if (!v.ok) throw new Error(`bench chain did not verify: ${v.firstBad?.message}`);
    return { rate: v.checked / ((performance.now() - t) / 1000), checked: v.checked };
  };
  const inline = await verifyRun(0);
  const parallel = await verifyRun(undefined);
  const v = parallel;
  const verifyRate = parallel.rate;

  // Raw limits in the same run.
  const msg = Buffer.alloc(300, 7);
  const digest = createHash('sha256').update(msg).digest();
  const time = (n: number, fn: () => void) => {
    const s = performance.now();
    for (let i = 0; i < n; i += 1) fn();
    return n / ((performance.now() - s) / 1000);
  };
  const sigRate = time(5000, () => sign(null, digest, signer.privateKey));
  const sig = sign(null, digest, signer.privateKey);
  const verRate = time(5000, () => verify(null, digest, signer.publicKey, sig));
  // Raw Ed25519 verify spread over the same number of worker threads verify uses: what the cores we
  // actually get right now can do (the machine is shared).
  const threads = defaultVerifyWorkers();
  const pubDer = signer.publicKey.export({ format: 'der', type: 'spki' });
  const rawWorker = `const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const key = createPublicKey({ key: Buffer.from(workerData.pub), format: 'der', type: 'spki' });
const d = Buffer.from(workerData.digest), s = Buffer.from(workerData.sig);
parentPort.on('message', (n) => { for (let i = 0; i < n; i += 1) verify(null, d, key, s); parentPort.postMessage(n); });`;
  const pool = Array.from(
    { length: threads },
    () => new Worker(rawWorker, { eval: true, workerData: { pub: pubDer, digest, sig } }),
  );
  await Promise.all(pool.map((w) => new Promise((r) => (w.once('message', r), w.postMessage(200)))));
  const ps = performance.now();
  await Promise.all(pool.map((w) => new Promise((r) => (w.once('message', r), w.postMessage(4000)))));
  const parVerRate = (4000 * threads) / ((performance.now() - ps) / 1000);
  await Promise.all(pool.map((w) => w.terminate()));
  const shaRate = time(50_000, () => createHash('sha256').update(msg).digest());
  const s = performance.now();
  await Promise.all(Array.from({ length: 20_000 }, (_, i) => client.rPush(`${prefixes[0]}:raw`, String(i))));
  const rpushRate = 20_000 / ((performance.now() - s) / 1000);
  const sorted = [...batched].sort((a, b) => a - b);
  console.log(
    'audit appends (hash + Ed25519 sign + CAS Lua append), 20,000 entries, 512 concurrent appenders, batches <= 256:',
  );
  console.log(
    `  median ${Math.round(sorted[1] ?? 0).toLocaleString()}/s  (rounds: ${batched.map((x) => Math.round(x)).join(', ')}; target >= 10,000/s)`,
  );
  console.log(
    `  raw Ed25519 sign measured just before each round: ${signBefore.map((x) => Math.round(x)).join(', ')}/s (appends/raw sign: ${batched.map((x, i) => (x / (signBefore[i] ?? 1)).toFixed(2)).join(', ')})`,
  );
  console.log(
    `  unbatched (one appender, one entry per script call): ${Math.round(single).toLocaleString()}/s`,
  );
  console.log(
    `verification (decode, canonical check, sha-256, Ed25519 verify) over ${v.checked} entries: ${Math.round(verifyRate).toLocaleString()} entries/s with ${defaultVerifyWorkers()} signature worker threads (default), ${Math.round(inline.rate).toLocaleString()} entries/s in one thread`,
  );
  console.log('raw limits in this run:');
  console.log(
    `  node:crypto Ed25519 sign ${Math.round(sigRate).toLocaleString()}/s, verify ${Math.round(verRate).toLocaleString()}/s, sha-256 (300 B) ${Math.round(shaRate).toLocaleString()}/s`,
  );
  console.log(
    `  node:crypto Ed25519 verify on ${threads} worker threads at once: ${Math.round(parVerRate).toLocaleString()}/s aggregate (the ceiling for verification here)`,
  );
  console.log(`  Redis pipelined RPUSH ${Math.round(rpushRate).toLocaleString()}/s`);
} finally {
  for (const p of prefixes) {
    const keys = await client.keys(`${p}:*`);
    if (keys.length) await client.del(keys);
  }
  await client.close();
}
