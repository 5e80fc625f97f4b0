import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { BusMessage, DeadLetter } from '../../../src/bus/index.js';
import { collector, sleep, testEnv, until, type Env } from './helpers.js';

const never = new Promise<void>(() => undefined);

describe('delivery guarantees under crashes and failures', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  test('at-least-once: a consumer that crashes before acking → the message is redelivered and handled again', async () => {
    const sender = await env.bus();
    await sender.register('w1');
    const crashing = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    const firstSeen: string[] = [];
    await crashing.consume('w1', async (m) => {
      firstSeen.push(m.payload.toString());
      await never; // hangs: never acks
    });
    await sender.send({ from: 'a', to: 'w1', payload: 'job-1' });
    await until(() => firstSeen.length >= 1, 'the first delivery');
    crashing.destroy(); // the crash: connections cut, nothing acked
    const survivor = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    const got = collector();
    await survivor.consume('w1', got.handler);
    const [m] = await got.waitFor(1);
    assert.equal(m?.payload.toString(), 'job-1');
    assert.ok((m?.deliveryCount ?? 0) >= 2, 'redelivered with a higher delivery count');
    assert.deepEqual(firstSeen, ['job-1']);
  });

  test('exactly-once: crash mid-frame → redelivered, and each handler completes exactly once', async () => {
    const sender = await env.bus();
    await sender.register('w2');
    const completed: string[] = [];
    const crashing = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    let crashedAt = '';
    await crashing.consume('w2', async (m) => {
      if (m.payload.toString() === 'e3') {
        crashedAt = 'e3';
        await never;
      }
      completed.push(m.payload.toString());
    });
    // sent in one tick: e1 goes out at once (the lane was idle), e2-e4 form one frame behind it
    await Promise.all(
      ['e1', 'e2', 'e3', 'e4'].map((p) =>
        sender.send({ from: 'a', to: 'w2', payload: p, delivery: 'exactly-once' }),
      ),
    );
    const frames = await env.redis.xRange(`${env.prefix}:inbox:w2`, '-', '+');
    assert.equal(frames.length, 2, 'e1 alone, then one frame of e2, e3, e4');
    await until(() => crashedAt === 'e3', 'the handler of e3 to hang');
    crashing.destroy();
    assert.deepEqual(completed, ['e1', 'e2']);
    const survivor = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    await survivor.consume('w2', (m) => void completed.push(m.payload.toString()));
    const deadline = Date.now() + 5000;
    while (completed.length < 4 && Date.now() < deadline) await sleep(20);
    await sleep(300);
    assert.deepEqual(completed, ['e1', 'e2', 'e3', 'e4'], 'e1 and e2 were not run again; e3 and e4 ran once');

    // contrast: at-least-once re-runs the messages handled before the crash
    const again: string[] = [];
    await sender.register('w3');
    const c2 = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    let hung = false;
    await c2.consume('w3', async (m) => {
      if (m.payload.toString() === 'l2') {
        hung = true;
        await never;
      }
      again.push(m.payload.toString());
    });
    // l0 goes out alone (idle lane); l1 and l2 share the next frame
    await Promise.all(['l0', 'l1', 'l2'].map((p) => sender.send({ from: 'a', to: 'w3', payload: p })));
    await until(() => hung, 'the handler of l2 to hang');
    c2.destroy();
    const s2 = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    await s2.consume('w3', (m) => void again.push(m.payload.toString()));
    while (again.length < 4 && Date.now() < deadline + 5000) await sleep(20);
    await sleep(200);
    assert.deepEqual(
      again,
      ['l0', 'l1', 'l1', 'l2'],
      'l0 (its own, acked frame) once; l1 again with its frame',
    );
  });

  test('at-most-once: a handler that fails is not run again and leaves no dead letter; a crash mid-handler is not redelivered', async () => {
    const sender = await env.bus();
    await sender.register('w5');
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 3 } });
    const runs: string[] = [];
    let hung = false;
    await bus.consume('w5', async (m) => {
      const p = m.payload.toString();
      runs.push(p);
      if (p === 'fails') throw new Error('handler bug');
      if (p === 'hangs') {
        hung = true;
        await never;
      }
    });
    const failing = await sender.send({ from: 'a', to: 'w5', payload: 'fails', delivery: 'at-most-once' });
    await until(() => runs.length >= 1, 'the failing handler to run');
    // well past the visibility timeout and three attempts' worth of retries
    await sleep(600);
    assert.deepEqual(runs, ['fails'], 'run once, not retried');
    const letters = await bus.deadLetters.list({ count: 500 });
    assert.equal(
      letters.some((d) => d.messageId === failing.id),
      false,
      'an at-most-once failure is dropped (audited), not dead-lettered',
    );

    await sender.send({ from: 'a', to: 'w5', payload: 'hangs', delivery: 'at-most-once' });
    await until(() => hung, 'the handler to hang');
    bus.destroy(); // the crash: the message was handed out once (NOACK) and is gone
    const survivor = await env.bus({ options: { visibilityTimeoutMs: 50 } });
    const got = collector();
    await survivor.consume('w5', got.handler);
    await sender.send({ from: 'a', to: 'w5', payload: 'after', delivery: 'at-most-once' });
    await got.waitFor(1);
    await sleep(500);
    assert.deepEqual(
      got.messages.map((m) => m.payload.toString()),
      ['after'],
      'the message lost in the crash is not redelivered',
    );
    assert.deepEqual(runs, ['fails', 'hangs']);
  });

  test('a handler that keeps failing → too_many_attempts dead letter, which `replay` re-delivers', async () => {
    const bus = await env.bus({ options: { visibilityTimeoutMs: 50, maxAttempts: 3 } });
    let attempts = 0;
    let fixed = false;
    const delivered: BusMessage[] = [];
    await bus.consume('w4', (m) => {
      if (!fixed) {
        attempts++;
        throw new Error('handler bug');
      }
      delivered.push(m);
    });
    const sent = await bus.send({ from: 'a', to: 'w4', payload: 'poison' });
    let dl: DeadLetter | undefined;
    const deadline = Date.now() + 5000;
    while (!dl && Date.now() < deadline) {
      dl = (await bus.deadLetters.list({ reason: 'too_many_attempts' })).find((d) => d.messageId === sent.id);
      await sleep(30);
    }
    assert.ok(dl, 'dead-lettered');
    assert.equal(attempts, 3);
    assert.match(dl.detail, /handler failed on delivery 3: handler bug/);
    assert.equal(dl.replayable, true);
    fixed = true;
    await bus.deadLetters.replay(dl.entryId);
    while (delivered.length < 1 && Date.now() < deadline + 3000) await sleep(20);
    assert.equal(delivered[0]?.payload.toString(), 'poison');
    assert.equal(
      (await bus.deadLetters.list()).some((d) => d.entryId === dl.entryId),
      false,
    );
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

describe('Redis restart with AOF (own redis-server)', () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;

  async function startRedis(): Promise<void> {
    server = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    );
    for (let i = 0; i < 100; i++) {
      await sleep(50);
      const ok = await new Promise<boolean>((r) => {
        const c = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        c.stdout.on('data', (d: Buffer) => (out += d.toString()));
        c.on('close', () => r(out.includes('PONG')));
      });
      if (ok) return;
    }
    throw new Error('own redis-server did not start');
  }
  async function stopRedis(): Promise<void> {
    const s = server;
    if (!s || s.exitCode !== null) return;
    await new Promise<void>((r) => {
      s.on('exit', () => r());
      // a hard crash of the process: what Redis wrote to the AOF before it answered survives (it writes
      // the AOF before sending replies); the `always` fsync above also covers a crash of the machine
      s.kill('SIGKILL');
    });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ars-bus-aof-'));
    port = await freePort();
    await startRedis();
  });
  after(async () => {
    await stopRedis();
    rmSync(dir, { recursive: true, force: true });
  });

  test('no acknowledged message is lost; unacked ones are redelivered', async (t) => {
    if (
      !(await new Promise<boolean>((r) =>
        spawn('redis-server', ['--version'])
          .on('exit', (c) => r(c === 0))
          .on('error', () => r(false)),
      ))
    ) {
      t.skip('redis-server is not installed: cannot run the restart test');
      return;
    }
    const url = `redis://127.0.0.1:${port}`;
    const env = await testEnv(url);
    const bus1 = await env.bus({ options: { visibilityTimeoutMs: 200 } });
    await bus1.register('r');
    const handled: string[] = [];
    let gate = false;
    await bus1.consume('r', async (m) => {
      const p = m.payload.toString();
      if (Number(p.slice(1)) >= 50 && !gate) await never; // 50..99 stay unacked
      handled.push(p);
    });
    for (let i = 0; i < 100; i++) await bus1.send({ from: 'a', to: 'r', payload: `m${i}` });
    await until(() => handled.length >= 50, 'the first 50 messages to be handled');
    const inbox = `${env.prefix}:inbox:r`;
    const pendingBefore = await env.redis.sendCommand<[number]>(['XPENDING', inbox, 'inbox']);
    assert.ok(pendingBefore[0] >= 1, 'some entries are delivered but unacked');
    bus1.destroy();
    await env.redis.close().catch(() => undefined);
    await stopRedis();
    await startRedis();
    const env2 = await testEnv(url);
    // the keystore lives in the restarted Redis too, but under env's prefix and master key: reuse env's keystore
    const bus2 = await env2.bus({
      keystore: env.keystore,
      options: { prefix: env.prefix, visibilityTimeoutMs: 200 },
    });
    gate = true;
    const after: string[] = [];
    const counts: number[] = [];
    await bus2.consume('r', (m) => {
      after.push(m.payload.toString());
      counts.push(m.deliveryCount);
    });
    await until(() => after.length >= 50, 'the 50 unacked messages after the restart', 15_000);
    // a moment more: an acked message coming back, or one twice, would show here
    await sleep(500);
    assert.deepEqual(
      handled,
      Array.from({ length: 50 }, (_, i) => `m${i}`),
      'before the restart, exactly m0..m49 were handled (and acked)',
    );
    // the entry that was delivered to bus1 and never acked comes back with its count raised
    assert.ok(Math.max(...counts) >= 2, `a pending entry is redelivered (counts ${counts.join(',')})`);
    assert.deepEqual(
      [...after].sort(),
      Array.from({ length: 50 }, (_, i) => `m${i + 50}`).sort(),
      'every unacked message was redelivered, and no acked one came back',
    );
    await bus2.close();
    await env2.cleanup();
  });
});
