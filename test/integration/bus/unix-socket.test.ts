import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { servicesRedisSocket } from '../../helpers/runtime.js';
import { REDIS_URL, testEnv, type Env } from './helpers.js';

const socket = servicesRedisSocket();

describe('the bus over a Unix socket (ARS_REDIS_URL=unix://…)', () => {
  let env: Env | undefined;
  before(async () => {
    if (existsSync(socket)) env = await testEnv(`unix://${socket}`);
  });
  after(async () => env?.cleanup());

  test('signed request/response and direct messages over unix:// reach the same Redis as TCP', async (t) => {
    if (!env) {
      t.skip(
        `SKIPPED: no Redis Unix socket at ${socket}. The Redis that scripts/services.sh starts has one; a Redis started otherwise needs --unixsocket (or set ARS_REDIS_SOCKET)`,
      );
      return;
    }
    const bus = await env.bus();
    assert.equal(bus.options.redisUrl, `unix://${socket}`);
    // the server on a second bus, so that the reply crosses Redis too
    const server = await env.bus();
    await server.consume('echo', async (m) => {
      if (m.kind === 'request')
        await server.reply(m, { from: 'echo', payload: `re:${m.payload.toString()}` });
    });
    await bus.consume('asker', () => undefined);
    const answer = await bus.request({ from: 'asker', to: 'echo', payload: 'ping', timeoutMs: 5000 });
    assert.equal(answer.payload.toString(), 're:ping');
    assert.notEqual(answer.entryId, '');

    // the same server: a bus on the TCP URL with the same prefix and keystore delivers to it
    const tcp = await env.bus({ options: { redisUrl: REDIS_URL } });
    const got: string[] = [];
    await tcp.consume('listener', (m) => {
      got.push(m.payload.toString());
    });
    const sent = await server.send({ from: 'echo', to: 'listener', payload: 'over the socket' });
    assert.equal(sent.status, 'queued');
    const deadline = Date.now() + 5000;
    while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ['over the socket']);
  });
});
