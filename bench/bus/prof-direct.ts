/** Profiling harness (not the benchmark): N direct 1 KB messages, sender and receiver in this process. */
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { createBus } from '../../src/bus/index.js';
import { createKeystore, createRedisKeystoreBackend } from '../../src/crypto/index.js';
import { randomId } from '../../src/util/index.js';

const url = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const admin = createClient({ url });
await admin.connect();
const prefix = `bench:${randomId('prof')}`;
const ks = createKeystore({ masterKey: randomBytes(32), backend: createRedisKeystoreBackend(admin, prefix) });
const security = process.env.SEC === 'on' ? 'signed-encrypted' : 'off';
const n = Number(process.env.N ?? 300_000);
const opts = { redisUrl: url, prefix, security, ratePerSecond: 1e9, rateBurst: 1e9 } as const;
const sender = await createBus({ keystore: ks, options: opts });
const receiver = await createBus({ keystore: ks, options: opts });
const payload = randomBytes(1024);
let got = 0;
let wake: () => void = () => undefined;
const done = new Promise<void>((r) => (wake = r));
await receiver.consume('sink', () => {
  if (++got === n) wake();
});
const t0 = performance.now();
const c0 = process.cpuUsage();
const window: Promise<unknown>[] = [];
for (let i = 0; i < n; i += 2048) {
  const ps = [];
  for (let j = i; j < Math.min(n, i + 2048); j++) ps.push(sender.send({ from: 'src', to: 'sink', payload }));
  window.push(Promise.all(ps));
  if (window.length >= 8) await window.shift();
}
await Promise.all(window);
await done;
const cpu = process.cpuUsage(c0);
console.log(
  security,
  Math.round(n / ((performance.now() - t0) / 1000)),
  'msg/s;',
  ((cpu.user + cpu.system) / n).toFixed(2),
  'µs CPU per message (this process)',
);
await sender.close();
await receiver.close();
let cursor = '0';
do {
  const r = await admin.scan(cursor, { MATCH: `${prefix}:*`, COUNT: 1000 });
  cursor = String(r.cursor);
  if (r.keys.length > 0) await admin.del(r.keys);
} while (cursor !== '0');
await admin.close();
