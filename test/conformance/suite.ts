/**
 * The runtime conformance suite: the semantics every AgentRuntime must have, whatever carries the
 * messages. runtime.test.ts runs it against the runtimes that need no services; the distributed
 * runtime (gateways on Redis) runs it in test/integration/gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  AgentHandlerError,
  CancelledError,
  DuplicateSubscriptionError,
  InvalidMessageError,
  RequestTimeoutError,
  UnknownAgentTypeError,
  UnknownMessageTypeError,
  type StateSnapshot,
} from '../../src/sdk/index.js';
import { randomId } from '../../src/util/ids.js';
import type { RuntimeFactory, RuntimeUnderTest } from './harness.js';

export function describeConformance(factory: RuntimeFactory): void {
  describe(`runtime conformance: ${factory.name}`, () => {
    let rt: RuntimeUnderTest;
    before(async () => {
      rt = await factory.create();
    });
    after(async () => {
      await rt.close();
    });
    const fresh = (): string => `subject/${randomId('k')}`;

    test('request/response returns the handler result and the sender', async () => {
      const id = fresh();
      const reply = await rt.runtime.request(id, 'echo', { text: 'hello' }, { from: 'probe/main' });
      assert.deepEqual(reply, { text: 'hello', sender: 'probe/main', self: id });
    });

    test('publishing to a topic with no subscribers is not an error', async () => {
      const result = await rt.runtime.publish(randomId('topic'), 'news', { text: 'x' });
      assert.deepEqual(result, { deliveredTo: [], rejected: [] });
    });

    test('sending to an unknown agent type fails clearly, from outside and from a handler', async () => {
      await assert.rejects(rt.runtime.send('nosuch/1', 'echo', {}), (e: unknown) => {
        assert.ok(e instanceof UnknownAgentTypeError);
        assert.equal(e.code, 'ARS_SDK_UNKNOWN_AGENT_TYPE');
        assert.match(e.message, /no agent type 'nosuch' is registered/);
        return true;
      });
      // From inside the agent (over the protocol, for the stdio runtime): the error reaches the requester.
      await assert.rejects(rt.runtime.request(fresh(), 'send-to', { to: 'nosuch/2' }), (e: unknown) => {
        assert.ok(e instanceof AgentHandlerError);
        assert.equal(e.remote.code, 'ARS_SDK_UNKNOWN_AGENT_TYPE');
        assert.match(e.remote.message, /no agent type 'nosuch'/);
        return true;
      });
    });

    test('an unknown message type and an invalid payload are refused at the boundary', async () => {
      await assert.rejects(rt.runtime.send(fresh(), 'nope', {}), (e: unknown) => {
        assert.ok(e instanceof UnknownMessageTypeError);
        assert.match(e.message, /has no handler for message type 'nope'/);
        return true;
      });
      await assert.rejects(rt.runtime.request(fresh(), 'echo', { text: 42 }), (e: unknown) => {
        assert.ok(e instanceof InvalidMessageError);
        assert.equal(e.code, 'ARS_SDK_INVALID_MESSAGE');
        assert.match(e.message, /text/);
        return true;
      });
    });

    test("a handler's exception reaches the requester with its name, code and message", async () => {
      await assert.rejects(rt.runtime.request(fresh(), 'fail', { message: 'boom 7' }), (e: unknown) => {
        assert.ok(e instanceof AgentHandlerError);
        assert.equal(e.code, 'ARS_SDK_HANDLER_FAILED');
        assert.equal(e.remote.name, 'FixtureFailure');
        assert.equal(e.remote.code, 'E_FIXTURE');
        assert.equal(e.remote.message, 'boom 7');
        assert.equal(e.messageType, 'fail');
        return true;
      });
    });

    test('cancellation reaches the handler and the requester gets CancelledError', async () => {
      const tag = randomId('c');
      const controller = new AbortController();
      const pending = rt.runtime.request(fresh(), 'await-cancel', { tag }, { signal: controller.signal });
      await rt.probe.next((e) => e.event === 'started' && e.tag === tag);
      controller.abort();
      await assert.rejects(pending, (e: unknown) => {
        assert.ok(e instanceof CancelledError);
        assert.match(e.message, /the requester cancelled/);
        return true;
      });
      const seen = await rt.probe.next((e) => e.event === 'cancelled' && e.tag === tag);
      assert.equal(seen.code, 'ARS_SDK_CANCELLED');
    });

    test('a request timeout ends in a named timeout error and cancels the handler', async () => {
      const tag = randomId('t');
      await assert.rejects(
        rt.runtime.request(fresh(), 'await-cancel', { tag }, { timeoutMs: 50 }),
        (e: unknown) => {
          assert.ok(e instanceof RequestTimeoutError);
          assert.equal(e.code, 'ARS_SDK_REQUEST_TIMEOUT');
          assert.equal(e.timeoutMs, 50);
          return true;
        },
      );
      const seen = await rt.probe.next((e) => e.event === 'cancelled' && e.tag === tag);
      assert.equal(seen.code, 'ARS_SDK_REQUEST_TIMEOUT');
    });

    test('a nested request from a handler times out with the named error too', async () => {
      await assert.rejects(
        rt.runtime.request(fresh(), 'request-to', { to: fresh(), timeoutMs: 50 }),
        (e: unknown) => {
          assert.ok(e instanceof AgentHandlerError);
          assert.equal(e.remote.code, 'ARS_SDK_REQUEST_TIMEOUT');
          return true;
        },
      );
    });

    test('a publisher does not receive its own publish unless it asks to', async () => {
      const topic = randomId('topic');
      const [a, b, c] = [fresh(), fresh(), fresh()];
      await rt.runtime.request(a, 'sub', { topic });
      await rt.runtime.request(b, 'sub', { topic });
      await rt.runtime.request(c, 'sub', { topic: `${topic}.own`, receiveOwn: true });
      const result = await rt.runtime.request<{ deliveredTo: string[] }>(a, 'pub', { topic, text: 'one' });
      assert.deepEqual(result.deliveredTo, [b]);
      const own = await rt.runtime.request<{ deliveredTo: string[] }>(c, 'pub', {
        topic: `${topic}.own`,
        text: 'mine',
      });
      assert.deepEqual(own.deliveredTo, [c]);
      // Each instance's queue is FIFO: the publish was queued before these requests.
      assert.deepEqual((await rt.runtime.request<{ received: string[] }>(a, 'get-state', {})).received, []);
      assert.deepEqual((await rt.runtime.request<{ received: string[] }>(b, 'get-state', {})).received, [
        'one',
      ]);
      assert.deepEqual((await rt.runtime.request<{ received: string[] }>(c, 'get-state', {})).received, [
        'mine',
      ]);
    });

    test('subscriptions added or removed at run time take effect on the next publish', async () => {
      const topic = randomId('topic');
      const a = fresh();
      assert.deepEqual((await rt.runtime.publish(topic, 'news', { text: 'before' })).deliveredTo, []);
      await rt.runtime.request(a, 'sub', { topic });
      assert.deepEqual((await rt.runtime.publish(topic, 'news', { text: 'during' })).deliveredTo, [a]);
      assert.equal(await rt.runtime.request(a, 'unsub', { topic }), true);
      assert.deepEqual((await rt.runtime.publish(topic, 'news', { text: 'after' })).deliveredTo, []);
      assert.deepEqual((await rt.runtime.request<{ received: string[] }>(a, 'get-state', {})).received, [
        'during',
      ]);
      assert.equal(await rt.runtime.request(a, 'unsub', { topic }), false);
    });

    test('a duplicate subscription is rejected', async () => {
      const topic = randomId('topic');
      const a = fresh();
      await rt.runtime.request(a, 'sub', { topic });
      await assert.rejects(rt.runtime.request(a, 'sub', { topic }), (e: unknown) => {
        assert.ok(e instanceof AgentHandlerError);
        assert.equal(e.remote.code, 'ARS_SDK_DUPLICATE_SUBSCRIPTION');
        return true;
      });
      await assert.rejects(rt.runtime.subscribe(a, topic), (e: unknown) => {
        assert.ok(e instanceof DuplicateSubscriptionError);
        assert.match(e.message, /already subscribed to topic/);
        return true;
      });
    });

    test('at most one handler runs at a time per instance; other instances are not blocked', async () => {
      const a = fresh();
      const b = fresh();
      const base = Math.floor(Math.random() * 1e6);
      const results = [1, 2, 3].map((i) => rt.runtime.request(a, 'gated', { n: base + i }));
      await rt.probe.next((e) => e.event === 'enter' && e.n === base + 1);
      // b's message was sent after a's three; when it has been handled, a's later deliveries have
      // certainly reached a's queue (in the stdio runtime: the agent read their frames first).
      const other = rt.runtime.request(b, 'gated', { n: base + 10 });
      await rt.probe.next((e) => e.event === 'enter' && e.n === base + 10);
      rt.probe.release(String(base + 10));
      assert.equal(await other, base + 10);
      const mine = () =>
        rt.probe.events.filter((e) => e.self === a).map((e) => `${e.event}${Number(e.n) - base}`);
      assert.deepEqual(mine(), ['enter1']);
      for (const i of [1, 2, 3]) {
        rt.probe.release(String(base + i));
        assert.equal(await results[i - 1], base + i);
      }
      await rt.probe.next((e) => e.event === 'exit' && e.n === base + 3);
      assert.deepEqual(mine(), ['enter1', 'exit1', 'enter2', 'exit2', 'enter3', 'exit3']);
    });

    test('state survives deactivation (hibernate) and is restored on the next message', async () => {
      const a = fresh();
      assert.equal(await rt.runtime.request(a, 'incr', { by: 5 }), 5);
      await rt.runtime.deactivate(a);
      const saved = (await rt.runtime.saveState(a)) as StateSnapshot;
      assert.deepEqual(saved, { v: 1, agentType: 'subject', state: { count: 5, received: [] } });
      assert.equal(await rt.runtime.request(a, 'incr', { by: 1 }), 6);
    });

    test('an invalid state snapshot is refused and changes nothing', async () => {
      const a = fresh();
      await rt.runtime.request(a, 'incr', { by: 2 });
      await assert.rejects(
        rt.runtime.restoreState(a, { v: 1, agentType: 'subject', state: { count: 'many' } }),
        (e: unknown) => (assert.equal((e as { code?: string }).code, 'ARS_SDK_INVALID_STATE'), true),
      );
      assert.equal(await rt.runtime.request(a, 'incr', { by: 1 }), 3);
    });
  });
}
