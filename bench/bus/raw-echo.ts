/**
 * The echo side of the raw request/response floor (bench/bus/request-latency.ts): a plain node-redis
 * loop blocked in XREADGROUP on stream `a` that XADDs each entry's value to stream `b`. No bus, no
 * crypto. It runs in the bench's process, or in the second one (bench/bus/receiver.ts, role
 * 'raw-echo') for the floor of a server in another process.
 */
import { createClient } from 'redis';
import { redisClientOptions } from '../../src/util/index.js';

type Client = ReturnType<typeof createClient>;

/** The two streams of the raw floor under `prefix`. */
export const rawStreams = (prefix: string): { a: string; b: string } => ({
  a: `${prefix}:rawA`,
  b: `${prefix}:rawB`,
});

/** A blocking read of the new entries of `stream` (group 'g', no ack), at most 1 s. */
export const readNew = (c: Client, stream: string): Promise<unknown> =>
  c.sendCommand([
    'XREADGROUP',
    'GROUP',
    'g',
    'c',
    'COUNT',
    '32',
    'BLOCK',
    '1000',
    'NOACK',
    'STREAMS',
    stream,
    '>',
  ]);

/** Creates both streams and their group (idempotent). */
export async function createRawStreams(c: Client, prefix: string): Promise<void> {
  const { a, b } = rawStreams(prefix);
  for (const s of [a, b])
    await c.sendCommand(['XGROUP', 'CREATE', s, 'g', '$', 'MKSTREAM']).catch((error: unknown) => {
      if (!String((error as Error)?.message).includes('BUSYGROUP')) throw error;
    });
}

/** Starts the echo loop; `stop()` ends it (within one blocking read) and closes its connections. */
export async function startRawEcho(redisUrl: string, prefix: string): Promise<{ stop(): Promise<void> }> {
  const { a, b } = rawStreams(prefix);
  const writer: Client = createClient(redisClientOptions(redisUrl));
  const reader: Client = createClient(redisClientOptions(redisUrl));
  try {
    await Promise.all([writer.connect(), reader.connect()]);
    await createRawStreams(writer, prefix);
  } catch (error) {
    await Promise.allSettled([writer.close(), reader.close()]);
    throw error;
  }
  let running = true;
  const loop = (async () => {
    while (running) {
      const r = (await readNew(reader, a)) as [string, [string, string[]][]][] | null;
      if (!r) continue;
      for (const [, entries] of r)
        for (const [, fields] of entries)
          await writer.sendCommand(['XADD', b, 'MAXLEN', '~', '1000', '*', 'v', fields[1] as string]);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await Promise.all([writer.close(), reader.close()]);
    },
  };
}
