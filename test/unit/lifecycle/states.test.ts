import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  AGENT_STATES,
  assertTransition,
  canTransition,
  IllegalTransitionError,
  TRANSITIONS,
} from '../../../src/lifecycle/states.js';

describe('lifecycle state machine', () => {
  test("the seed's transitions are all allowed", () => {
    const seed: [string, string][] = [
      ['Initializing', 'Ready'],
      ['Ready', 'Running'],
      ['Running', 'Waiting'],
      ['Waiting', 'Running'],
      ['Running', 'Suspended'],
      ['Suspended', 'Running'],
      ['Running', 'Completed'],
      ['Completed', 'Ready'],
      ['Completed', 'Terminated'],
      ['Initializing', 'Failed'],
      ['Failed', 'Terminated'],
      ['Suspended', 'Terminated'],
    ];
    for (const [from, to] of seed) assert.ok(canTransition(from as never, to as never), `${from} → ${to}`);
  });

  test('illegal transitions are rejected with the allowed ones named', () => {
    assert.throws(
      () => assertTransition('Initializing', 'Running', 'skip ahead'),
      (error: unknown) => {
        assert.ok(error instanceof IllegalTransitionError);
        assert.equal(error.code, 'ARS_ILLEGAL_TRANSITION');
        assert.equal(
          error.message,
          'agent cannot go from Initializing to Running (skip ahead); from Initializing it may go to Ready, Failed',
        );
        return true;
      },
    );
    assert.throws(
      () => assertTransition('Terminated', 'Ready', 'revive'),
      /from Terminated it may go to nothing: it has ended/,
    );
  });

  test('Terminated is final and every state can reach it', () => {
    assert.deepEqual(TRANSITIONS.Terminated, []);
    for (const state of AGENT_STATES) {
      const seen = new Set([state]);
      const queue = [state];
      for (let current = queue.shift(); current; current = queue.shift()) {
        for (const next of TRANSITIONS[current]) {
          if (!seen.has(next)) {
            seen.add(next);
            queue.push(next);
          }
        }
      }
      assert.ok(seen.has('Terminated'), `${state} cannot reach Terminated`);
    }
  });

  test('property: assertTransition throws exactly when canTransition is false', () => {
    const state = fc.constantFrom(...AGENT_STATES);
    fc.assert(
      fc.property(state, state, (from, to) => {
        let threw = false;
        try {
          assertTransition(from, to, 'p');
        } catch {
          threw = true;
        }
        return threw === !canTransition(from, to);
      }),
    );
  });
});
