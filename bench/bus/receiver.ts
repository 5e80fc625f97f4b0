/**
 * The second process of the bus benchmarks, with its own bus and keystore (same Redis, prefix and
 * master key). As the receiving side of the two-process direct benchmark (forked by
 * bench/bus/bus.ts) it consumes the 'sink' inbox and reports when the expected number of messages has
 * arrived; as the server of the two-process request/response series (bench/bus/request-latency.ts)
 * it answers every request to 'server' with its payload; as the echo of the raw floor with a second
 * process (role 'raw-echo') it runs raw-echo.ts, without a bus.
 */
import { createClient } from 'redis';
import { createBus, type Bus } from '../../src/bus/index.js';
import { createKeystore, createRedisKeystoreBackend } from '../../src/crypto/index.js';
import { redisClientOptions } from '../../src/util/index.js';
import { startRawEcho } from './raw-echo.js';
import { RECEIVER_READY, type ReceiverReply, type ReceiverRequest } from './receiver-protocol.js';

const reply = (m: ReceiverReply): void => void process.send?.(m);
let bus: Bus | undefined;
let admin: ReturnType<typeof createClient> | undefined;
let rawEcho: { stop(): Promise<void> } | undefined;
let got = 0;
let target = Infinity;

// the parent is gone (it finished, failed or was killed): nothing is left to serve
process.on('disconnect', () => process.exit(0));

process.on('message', (m: ReceiverRequest) => {
  void (async () => {
    if (m.kind === 'start' && m.role === 'raw-echo') {
      rawEcho = await startRawEcho(m.url, m.prefix);
      reply({ kind: RECEIVER_READY });
    } else if (m.kind === 'start') {
      admin = createClient(redisClientOptions(m.url));
      await admin.connect();
      const keystore = createKeystore({
        masterKey: Buffer.from(m.masterKey, 'hex'),
        backend: createRedisKeystoreBackend(admin, m.keystorePrefix),
      });
      bus = await createBus({
        keystore,
        options: { redisUrl: m.url, prefix: m.prefix, security: m.security },
      });
      const b = bus;
      if (m.role === 'echo')
        await b.consume('server', async (r) => {
          if (r.kind === 'request') await b.reply(r, { from: 'server', payload: r.payload });
        });
      else
        await b.consume('sink', () => {
          if (++got === target) reply({ kind: 'done', n: got });
        });
      reply({ kind: RECEIVER_READY });
    } else if (m.kind === 'expect') {
      got = 0;
      target = m.n;
      reply({ kind: 'expecting' });
    } else {
      await rawEcho?.stop();
      await bus?.close();
      await admin?.close();
      process.disconnect();
    }
  })();
});
