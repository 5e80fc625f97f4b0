/**
 * Runtime conformance: the suite (suite.ts) against every runtime in RUNTIMES (in-process; the
 * subject agent in a separate agent-host process over the stdio protocol), and state moving
 * between them.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StateSnapshot } from '../../src/sdk/index.js';
import { randomId } from '../../src/util/ids.js';
import { RUNTIMES } from './harness.js';
import { describeConformance } from './suite.js';

for (const factory of RUNTIMES) describeConformance(factory);

describe('runtime conformance: state moves between runtimes', () => {
  test('state saved in one runtime restores in the other, both ways', async () => {
    const [inProcess, stdio] = await Promise.all(RUNTIMES.map((f) => f.create()));
    try {
      assert.ok(inProcess && stdio);
      const a = `subject/${randomId('k')}`;
      await inProcess.runtime.request(a, 'incr', { by: 41 });
      await inProcess.runtime.publish('none', 'news', {});
      await inProcess.runtime.request(a, 'news', { text: 'kept' });
      const snapshot = (await inProcess.runtime.saveState(a)) as StateSnapshot;
      await stdio.runtime.restoreState(a, snapshot);
      assert.equal(await stdio.runtime.request(a, 'incr', { by: 1 }), 42);
      const back = (await stdio.runtime.saveState(a)) as StateSnapshot;
      assert.deepEqual(back.state, { count: 42, received: ['kept'] });
      const b = `subject/${randomId('k')}`;
      await inProcess.runtime.restoreState(b, back);
      assert.deepEqual(await inProcess.runtime.request(b, 'get-state', {}), {
        count: 42,
        received: ['kept'],
      });
    } finally {
      await Promise.all([inProcess?.close(), stdio?.close()]);
    }
  });
});
