import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import {
  AgentProcessExitedError,
  AgentUnresponsiveError,
  encodeFrame,
  FrameDecoder,
  StdioAgentConnection,
} from '../../../src/agent-host/index.js';
import {
  AgentHandlerError,
  createInProcessRuntime,
  defineAgent,
  InvalidMessageError,
  UnknownMessageTypeError,
} from '../../../src/sdk/index.js';
import { spawnLocalAgent, SUBJECT_MODULE } from '../../conformance/harness.js';
import type * as FanOut from '../../../examples/agents/fan-out.js';

type FanOutModule = typeof FanOut;

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const EXAMPLE = fileURLToPath(new URL(`../../../examples/agents/fan-out${ext}`, import.meta.url));
// Not compiled, so it lives only in the source tree: from dist/test/unit/sdk that is one level more.
const PYTHON_AGENT = fileURLToPath(
  new URL(`${ext === '.js' ? '../' : ''}../../../examples/agents/python/echo_agent.py`, import.meta.url),
);

describe('frame codec', () => {
  test('frames split at every byte boundary decode to the same values', () => {
    const frames = [
      { k: 'ping', id: 'a' },
      { k: 'result', re: 'a', value: { text: 'é✓' } },
    ];
    const bytes = Buffer.concat(frames.map((f) => encodeFrame(f, 1024)));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new FrameDecoder(1024);
      const out = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      assert.deepEqual(
        out,
        frames.map((value) => ({ ok: true, value })),
      );
    }
  });

  test('an oversized frame is skipped and reported; the stream stays in sync', () => {
    const d = new FrameDecoder(16);
    const big = Buffer.alloc(4 + 40);
    big.writeUInt32BE(40, 0);
    const next = encodeFrame({ k: 'bye' }, 16);
    const out = [...d.push(big.subarray(0, 10)), ...d.push(Buffer.concat([big.subarray(10), next]))];
    assert.equal(out.length, 2);
    assert.deepEqual(out[0] && !out[0].ok && out[0].code, 'ARS_PROTO_FRAME_TOO_LARGE');
    assert.deepEqual(out[1], { ok: true, value: { k: 'bye' } });
    assert.throws(() => encodeFrame({ k: 'x', pad: 'y'.repeat(40) }, 16), RangeError);
  });

  test('a body that is not JSON is reported, not thrown', () => {
    const body = Buffer.from('{nope', 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length, 0);
    const [out] = new FrameDecoder(1024).push(Buffer.concat([head, body]));
    assert.equal(out?.ok, false);
    assert.equal(out && !out.ok && out.code, 'ARS_PROTO_BAD_FRAME');
  });
});

describe('stdio agent host (local node process)', () => {
  const open: StdioAgentConnection[] = [];
  after(async () => {
    await Promise.all(open.map((c) => c.close()));
  });

  test('bad frames get protocol error frames and the agent keeps serving', async () => {
    const connection = await spawnLocalAgent(SUBJECT_MODULE);
    open.push(connection);
    const runtime = createInProcessRuntime();
    await runtime.register(connection);
    const garbage = Buffer.from('not json at all', 'utf8');
    const head = Buffer.alloc(4);
    head.writeUInt32BE(garbage.length, 0);
    connection.writeRaw(Buffer.concat([head, garbage]));
    connection.writeRaw(encodeFrame({ k: 'deliver', id: 'x1', to: 'subject/a' }, 1 << 20)); // missing fields
    connection.writeRaw(encodeFrame({ k: 'teleport', id: 'x2' }, 1 << 20)); // unknown kind
    // The agent answers frames in order: once this request is answered, the three errors are in.
    assert.deepEqual(await runtime.request('subject/a', 'echo', { text: 'still here' }), {
      text: 'still here',
      sender: null,
      self: 'subject/a',
    });
    assert.deepEqual(
      connection.protocolErrors.map((e) => e.code),
      ['ARS_PROTO_BAD_FRAME', 'ARS_PROTO_BAD_FRAME', 'ARS_PROTO_BAD_FRAME'],
    );
    assert.match(connection.protocolErrors[1]?.message ?? '', /type/);
    await runtime.close();
  });

  test('an agent that stops answering heartbeats is killed with AgentUnresponsiveError', async () => {
    const hangModule = fileURLToPath(new URL(`./fixtures/blocking-agent${ext}`, import.meta.url));
    const exits: (Error | undefined)[] = [];
    const connection = await StdioAgentConnection.spawn({
      command: process.execPath,
      args: [
        ...process.execArgv.filter((a) => !a.startsWith('--test')),
        fileURLToPath(new URL(`../../../src/agent-host/main${ext}`, import.meta.url)),
        '--module',
        hangModule,
      ],
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 300,
      onExit: (e) => exits.push(e),
    });
    const runtime = createInProcessRuntime();
    await runtime.register(connection);
    // The handler blocks the agent's event loop for good: no pong, no result.
    await assert.rejects(runtime.request('blocker/1', 'block', {}), (e: unknown) => {
      assert.ok(e instanceof AgentUnresponsiveError);
      assert.equal(e.code, 'ARS_AGENT_UNRESPONSIVE');
      return true;
    });
    await connection.whenExited();
    assert.ok(exits[0] instanceof AgentUnresponsiveError);
    await runtime.close();
  });

  test('a process that exits fails pending messages with AgentProcessExitedError', async () => {
    const connection = await spawnLocalAgent(SUBJECT_MODULE);
    const runtime = createInProcessRuntime();
    await runtime.register(connection);
    const pending = runtime.request('subject/z', 'await-cancel', { tag: 'x' }).catch((e: unknown) => e);
    // Wait until the agent has the message (it reports to probe/main, unknown here: the send fails, fine).
    await new Promise((r) => setImmediate(r));
    connection.kill();
    const error = await pending;
    assert.ok(error instanceof AgentProcessExitedError);
    assert.equal(error.signal, 'SIGKILL');
    await runtime.close();
  });
});

describe('python agent over the stdio protocol', () => {
  test('echo, state, publish through the host, handler errors, bad frames', async () => {
    const connection = await StdioAgentConnection.spawn({ command: 'python3', args: [PYTHON_AGENT] });
    const runtime = createInProcessRuntime();
    try {
      assert.equal(connection.peer?.impl, 'python-echo/1');
      await runtime.register(connection);
      const heard: string[] = [];
      await runtime.register(
        defineAgent({
          type: 'listener',
          messages: { news: z.object({ text: z.string() }) },
          handlers: { news: ({ text }) => void heard.push(text) },
        }),
      );
      await runtime.subscribe('listener/1', 'shouts');
      assert.deepEqual(await runtime.request('py-echo/a', 'echo', { text: 'hi' }), {
        text: 'hi',
        by: 'py-echo/a',
        count: 1,
      });
      assert.deepEqual(await runtime.request('py-echo/a', 'echo', { text: 'again' }), {
        text: 'again',
        by: 'py-echo/a',
        count: 2,
      });
      const published = await runtime.request<{ deliveredTo: string[] }>('py-echo/a', 'shout', {
        text: 'loud',
        topic: 'shouts',
      });
      assert.deepEqual(published.deliveredTo, ['listener/1']);
      await runtime.request('listener/1', 'news', { text: 'sync' }); // FIFO: the shout was queued first
      assert.deepEqual(heard, ['LOUD', 'sync']);
      await assert.rejects(runtime.request('py-echo/a', 'fail', {}), (e: unknown) => {
        assert.ok(e instanceof AgentHandlerError);
        assert.equal(e.remote.code, 'E_PY_FAIL');
        return true;
      });
      await assert.rejects(runtime.request('py-echo/a', 'echo', { text: 5 }), InvalidMessageError);
      await assert.rejects(runtime.send('py-echo/a', 'nope', {}), UnknownMessageTypeError);
      connection.writeRaw(Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]));
      const snapshot = await runtime.saveState('py-echo/a');
      assert.deepEqual(snapshot, { v: 1, agentType: 'py-echo', state: { count: 2 } });
      assert.deepEqual(
        connection.protocolErrors.map((e) => e.code),
        ['ARS_PROTO_BAD_FRAME'],
      );
      await runtime.restoreState('py-echo/b', { v: 1, agentType: 'py-echo', state: { count: 10 } });
      assert.deepEqual(await runtime.request('py-echo/b', 'echo', { text: 'x' }), {
        text: 'x',
        by: 'py-echo/b',
        count: 11,
      });
    } finally {
      await runtime.close();
      await connection.whenExited();
    }
  });
});

describe('example fan-out system', () => {
  const job = { id: 'j1', items: [1, 2, 3, 4, 5, 6, 7] };
  const expected = { id: 'j1', sum: 140, byWorker: ['worker/0', 'worker/1', 'worker/2'] };

  test('gives the same results in-process and with every agent in its own process', async () => {
    const { agents, ledger } = (await import(EXAMPLE)) as FanOutModule;
    const inProcess = createInProcessRuntime();
    for (const a of agents) await inProcess.register(a);
    const mixed = createInProcessRuntime();
    const connections = await Promise.all(
      ['coordinator', 'worker'].map((type) => spawnLocalAgent(EXAMPLE, { type })),
    );
    try {
      for (const c of connections) await mixed.register(c);
      await mixed.register(ledger);
      for (const rt of [inProcess, mixed]) {
        await rt.subscribe('ledger/main', 'jobs.done');
        assert.deepEqual(await rt.request('coordinator/c1', 'job', job), expected);
        assert.deepEqual(await rt.request('ledger/main', 'list', {}), ['j1']);
        assert.equal(await rt.run('coordinator', { items: [2, 3] }), 13);
        assert.deepEqual(await rt.saveState('coordinator/c1'), {
          v: 1,
          agentType: 'coordinator',
          state: { jobs: 1, total: 140 },
        });
      }
    } finally {
      await inProcess.close();
      await mixed.close();
      await Promise.all(connections.map((c) => c.whenExited()));
    }
  });
});
