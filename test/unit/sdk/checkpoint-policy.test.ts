/**
 * `checkpoint: 'after-each-message'`: every finished handler (even a failing one) checkpoints the
 * state before its request is answered; the default `on-save` checkpoints only on ctx.state.save()
 * and hibernation; an unknown policy is refused when the agent is defined.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import {
  AgentDefinitionError,
  AgentHandlerError,
  createInProcessRuntime,
  defineAgent,
  MemoryStateStore,
  type CheckpointPolicy,
} from '../../../src/sdk/index.js';

function counter(checkpoint?: CheckpointPolicy) {
  return defineAgent({
    type: 'counter',
    ...(checkpoint ? { checkpoint } : {}),
    state: z.object({ n: z.number().int() }).default({ n: 0 }),
    messages: { incr: z.object({}), 'incr-then-fail': z.object({}) },
    handlers: {
      incr: (_, ctx) => {
        ctx.state.set({ n: ctx.state.get().n + 1 });
        return ctx.state.get().n;
      },
      'incr-then-fail': (_, ctx) => {
        ctx.state.set({ n: ctx.state.get().n + 1 });
        throw new Error('boom');
      },
    },
  });
}

describe('checkpoint policy', () => {
  test('after-each-message: the checkpoint holds each answered change, also after a failing handler', async () => {
    const store = new MemoryStateStore();
    const runtime = createInProcessRuntime({ stateStore: store });
    try {
      await runtime.register(counter('after-each-message'));
      assert.equal(await runtime.request('counter/a', 'incr', {}), 1);
      assert.deepEqual((await store.get('counter/a'))?.state, { n: 1 });
      await assert.rejects(runtime.request('counter/a', 'incr-then-fail', {}), AgentHandlerError);
      assert.deepEqual((await store.get('counter/a'))?.state, { n: 2 });
    } finally {
      await runtime.close();
    }
  });

  test('on-save (the default): no checkpoint until the agent saves or hibernates', async () => {
    const store = new MemoryStateStore();
    const runtime = createInProcessRuntime({ stateStore: store });
    try {
      const definition = counter();
      assert.equal(definition.checkpoint, 'on-save');
      await runtime.register(definition);
      assert.equal(await runtime.request('counter/a', 'incr', {}), 1);
      assert.equal(await store.get('counter/a'), undefined);
      await runtime.deactivate('counter/a');
      assert.deepEqual((await store.get('counter/a'))?.state, { n: 1 });
    } finally {
      await runtime.close();
    }
  });

  test('an unknown checkpoint policy is refused when the agent is defined', () => {
    assert.throws(
      () => counter('sometimes' as CheckpointPolicy),
      (error: unknown) =>
        error instanceof AgentDefinitionError &&
        /checkpoint 'sometimes' is unknown; use on-save or after-each-message/.test(error.message),
    );
  });
});
