import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRUNE_ABOVE, PRUNE_EVERY_MS } from '../../../src/bus/prune.js';
import { HOLD_MS, RateLimiter, type TakeShared } from '../../../src/bus/rate-limiter.js';

/** An in-memory stand-in for rate-take.lua.ts: one bucket per agent, shared by every limiter given it. */
function sharedBuckets(perSecond: number, burst: number, now: () => number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const calls: { agent: string; want: number; give: number }[] = [];
  let failing: Error | undefined;
  const take: TakeShared = (agent, want, give) => {
    calls.push({ agent, want, give });
    if (failing) return Promise.reject(failing);
    const t = now();
    const b = buckets.get(agent) ?? { tokens: burst, at: t };
    let tokens = Math.min(burst, b.tokens + ((t - b.at) * perSecond) / 1000 + give);
    const granted = Math.max(0, Math.min(want, Math.floor(tokens)));
    tokens -= granted;
    buckets.set(agent, { tokens, at: t });
    const waitMs = tokens < 1 ? Math.max(1, Math.ceil(((1 - tokens) * 1000) / perSecond)) : 0;
    return Promise.resolve({ granted, waitMs });
  };
  return {
    take,
    calls,
    fail(e: Error | undefined) {
      failing = e;
    },
    tokens: (agent: string) => buckets.get(agent)?.tokens,
  };
}

/** A token for one send, as the bus takes it: 0 at once, else a promise of 0 (taken) or the wait in ms. */
function take(l: RateLimiter, agent: string): 0 | Promise<number> {
  if (l.tryTake(agent)) return 0;
  return new Promise<number>((resolve, reject) => l.wait(agent, { resolve, reject }));
}

/** Takes `n` tokens one after another (as sends awaited in turn); returns how many were granted. */
async function takeN(l: RateLimiter, agent: string, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await take(l, agent)) === 0) ok++;
  return ok;
}

describe('rate limits shared by every process (RateLimiter over one bucket per agent)', () => {
  test('two processes together get the burst once, not once each', async () => {
    const t = 0;
    const shared = sharedBuckets(1, 10, () => t);
    const a = new RateLimiter(1, 10, shared.take, () => t);
    const b = new RateLimiter(1, 10, shared.take, () => t);
    const got = (await takeN(a, 'spam', 10)) + (await takeN(b, 'spam', 10));
    assert.equal(got, 10, 'the clock did not move: exactly the burst across both');
    assert.equal(await takeN(a, 'other', 3), 3, 'each agent has its own bucket');
  });

  test('a refused send learns when the next token comes', async () => {
    let t = 0;
    const shared = sharedBuckets(4, 1, () => t);
    const l = new RateLimiter(4, 1, shared.take, () => t);
    assert.equal(await take(l, 'a'), 0);
    assert.equal(await take(l, 'a'), 250);
    t = 250;
    assert.equal(await take(l, 'a'), 0, 'a token after the wait it named');
  });

  test('tokens at hand are spent without a round trip, and the next chunk is taken in the background', async () => {
    const t = 0;
    const shared = sharedBuckets(2000, 2000, () => t);
    const l = new RateLimiter(2000, 2000, shared.take, () => t);
    assert.equal(l.chunk, 100, '50 ms of the rate');
    assert.equal(await take(l, 'a'), 0); // the first send waits for the first chunk
    assert.equal(shared.calls.length, 1);
    let sync = 0;
    for (let i = 0; i < 49; i++) if (take(l, 'a') === 0) sync++;
    assert.equal(sync, 49, 'no send waited');
    assert.equal(shared.calls.length, 1, 'half the chunk left: no take yet');
    assert.equal(take(l, 'a'), 0);
    assert.equal(shared.calls.length, 2, 'below half: the next chunk is asked for');
    await Promise.resolve();
    let more = 0;
    for (let i = 0; i < 140; i++) if (take(l, 'a') === 0) more++;
    assert.equal(more, 140, '49 left + 100 prefetched, the prefetch being asked again as they ran low');
    assert.ok(
      shared.calls.every((c) => c.want <= 100),
      'never more than a chunk at once',
    );
  });

  test('the chunk is at most a quarter of the burst, at least one token', () => {
    const take: TakeShared = () => Promise.resolve({ granted: 0, waitMs: 1 });
    assert.equal(new RateLimiter(20_000, 20_000, take).chunk, 1000);
    assert.equal(new RateLimiter(20_000, 400, take).chunk, 100);
    assert.equal(new RateLimiter(1, 2, take).chunk, 1);
  });

  test('sends that wait are answered in call order, and a later send waits behind them', async () => {
    const t = 0;
    const shared = sharedBuckets(1, 3, () => t);
    const l = new RateLimiter(1, 3, shared.take, () => t);
    const order: string[] = [];
    const w = [1, 2, 3, 4].map((i) => {
      const r = take(l, 'a');
      assert.notEqual(r, 0, 'nothing at hand yet');
      return Promise.resolve(r).then((wait) => order.push(`${i}:${wait === 0 ? 'ok' : 'refused'}`));
    });
    await Promise.all(w);
    assert.deepEqual(order, ['1:ok', '2:ok', '3:ok', '4:refused']);
    assert.equal(shared.calls[0]?.want, 4, 'one take for all four waiting sends');
  });

  test('tokens not spent in time are given back to the shared bucket', async () => {
    let t = 0;
    const shared = sharedBuckets(2000, 2000, () => t);
    const a = new RateLimiter(2000, 2000, shared.take, () => t);
    assert.equal(await take(a, 'x'), 0);
    assert.equal(shared.tokens('x'), 1900, 'a chunk of 100 taken');
    t = HOLD_MS;
    const r = take(a, 'x');
    assert.notEqual(r, 0, 'held tokens are stale after HOLD_MS: not spent');
    assert.equal(await r, 0);
    assert.equal(shared.calls[1]?.give, 99, 'the 99 unspent were given back with the next take');
  });

  test('if Redis cannot be asked, the waiting sends fail with its error (nothing is let through)', async () => {
    const t = 0;
    const shared = sharedBuckets(1, 5, () => t);
    const l = new RateLimiter(1, 5, shared.take, () => t);
    shared.fail(new Error('connection lost'));
    await assert.rejects(Promise.resolve(take(l, 'a')), /connection lost/);
    shared.fail(undefined);
    assert.equal(await take(l, 'a'), 0, 'and it recovers');
  });

  test('agents with nothing held and nothing waiting are pruned; one holding tokens keeps them', async () => {
    let t = 0;
    const shared = sharedBuckets(1, 1, () => t);
    const l = new RateLimiter(1, 1, shared.take, () => t);
    for (let i = 0; i <= PRUNE_ABOVE; i++) assert.equal(await take(l, `agent-${i}`), 0);
    assert.equal(l.size, PRUNE_ABOVE + 1, 'the first pass found nothing to drop');
    t = PRUNE_EVERY_MS;
    assert.equal(await take(l, 'busy'), 0);
    assert.equal(l.size, 1, 'all spent: dropped');
    assert.ok((await take(l, 'busy')) > 0, 'the agent in use still limits');
  });
});

describe('RateLimiter waiters', () => {
  test('are answered synchronously in queue order; a send made while they are answered queues behind them', async () => {
    const shared = sharedBuckets(1000, 1000, () => 0);
    const l = new RateLimiter(1000, 1000, shared.take, () => 0);
    const order: string[] = [];
    const fail = (e: Error): void => assert.fail(e);
    l.wait('a', {
      resolve: (w) => {
        order.push(`A:${w}`);
        // a reaction to A's token, before B has been answered: it must not overtake B
        if (l.tryTake('a')) order.push('C:at once');
        else l.wait('a', { resolve: (w2) => order.push(`C:${w2}`), reject: fail });
      },
      reject: fail,
    });
    l.wait('a', { resolve: (w) => order.push(`B:${w}`), reject: fail });
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(order, ['A:0', 'B:0', 'C:0']);
    assert.equal(shared.calls.length, 1, 'one take served all three');
  });
});
