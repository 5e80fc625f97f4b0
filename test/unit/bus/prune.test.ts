import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BusContext } from '../../../src/bus/context.js';
import { compileBusOptions } from '../../../src/bus/options.js';
import { Pruner, PRUNE_ABOVE, PRUNE_EVERY_MS } from '../../../src/bus/prune.js';
import { FrameWriter } from '../../../src/bus/sender.js';

describe('per-agent maps are pruned without changing an answer', () => {
  test('Pruner: only above the size limit, at most once per interval, only what it is told is gone', () => {
    let t = 0;
    const p = new Pruner(() => t, 4, 1000);
    const m = new Map(Array.from({ length: 4 }, (_, i) => [i, i]));
    assert.equal(
      p.sweep(m, () => true),
      0,
      'not above the limit',
    );
    m.set(4, 4);
    assert.equal(
      p.sweep(m, (v) => v % 2 === 0),
      3,
    );
    assert.deepEqual([...m.keys()], [1, 3]);
    for (let i = 5; i < 10; i++) m.set(i, i);
    t = 999;
    assert.equal(
      p.sweep(m, () => true),
      0,
      'not due yet',
    );
    t = 1000;
    assert.equal(
      p.sweep(m, () => true),
      7,
    );
  });

  test('frame writer: idle lanes are dropped once there are many; a lane in use is kept', () => {
    let t = 0;
    const ctx = { now: () => t, options: compileBusOptions({ security: 'off' }) } as unknown as BusContext;
    const w = new FrameWriter(ctx, false);
    const busy = w.lane('inbox:x', 'sender-busy', 'x', '');
    busy.inFlight = 1; // a frame of it is being written
    // past the limit, the first pass (due at once) drops the idle lanes, and then not again for a while
    for (let i = 0; i < 2 * PRUNE_ABOVE; i++) w.lane('inbox:x', `sender-${i}`, 'x', '');
    assert.equal(w.laneCount, PRUNE_ABOVE + 1, 'one pass at 1,025 lanes, none since');
    t = PRUNE_EVERY_MS;
    w.lane('inbox:y', 'new', 'y', '');
    assert.equal(w.laneCount, 2, 'the busy lane and the new one');
    assert.equal(w.lane('inbox:x', 'sender-busy', 'x', ''), busy, 'the same lane object: its order is kept');
  });
});
