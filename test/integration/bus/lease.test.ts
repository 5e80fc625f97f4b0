import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { DeliveryLevel } from '../../../src/bus/index.js';
import { sleep, testEnv, type Env } from './helpers.js';

/**
 * A consumer holds the entries it is handling: a handler slower than the visibility timeout is not
 * reclaimed and run again by another consumer of the same group (two buses stand for two processes).
 */
describe('a slow handler keeps its entry', () => {
  let env: Env;
  before(async () => {
    env = await testEnv();
  });
  after(async () => env.cleanup());

  for (const delivery of ['exactly-once', 'at-least-once'] as DeliveryLevel[]) {
    test(`${delivery}: a handler three times slower than visibilityTimeoutMs runs once`, async () => {
      // margins for a noisy shared machine: a stall of a few hundred ms must not lapse the lease
      const options = { visibilityTimeoutMs: 1000, claimIntervalMs: 50 };
      const b1 = await env.bus({ options });
      const b2 = await env.bus({ options });
      const agent = `slow-${delivery}`;
      const runs: string[] = [];
      let done = 0;
      const handler = (name: string) => async (): Promise<void> => {
        runs.push(name);
        await sleep(3000);
        done++;
      };
      await b1.consume(agent, handler('b1'), { delivery });
      await b2.consume(agent, handler('b2'), { delivery });
      await b1.send({ from: 'alice', to: agent, payload: 'pay invoice 42', delivery });
      const deadline = Date.now() + 10_000;
      while (done < 1 && Date.now() < deadline) await sleep(20);
      await sleep(1500); // another consumer would have reclaimed it by now
      assert.equal(runs.length, 1, `handler runs: ${runs.join(', ')}`);
      // and it was acked: nothing left pending in the group
      const pending = await env.redis.sendCommand<[number, ...unknown[]]>([
        'XPENDING',
        `${env.prefix}:inbox:${agent}`,
        'inbox',
      ]);
      assert.equal(Number(pending[0]), 0);
    });
  }

  test('a handler that fails is run again by its own consumer (in place), not by another one', async () => {
    const options = { visibilityTimeoutMs: 200, claimIntervalMs: 50 };
    const b1 = await env.bus({ options });
    const b2 = await env.bus({ options });
    const runs: string[] = [];
    let failOnce = true;
    const handler = (name: string) => (): void => {
      runs.push(name);
      if (failOnce) {
        failOnce = false;
        throw new Error('transient');
      }
    };
    await b1.consume('flaky', handler('b1'));
    await b2.consume('flaky', handler('b2'));
    await b1.send({ from: 'alice', to: 'flaky', payload: 'x' });
    const deadline = Date.now() + 5000;
    while (runs.length < 2 && Date.now() < deadline) await sleep(20);
    assert.equal(runs.length, 2);
    assert.equal(runs[0], runs[1], `runs: ${runs.join(', ')}`);
  });
});
