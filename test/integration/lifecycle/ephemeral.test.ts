import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomId } from '../../../src/util/ids.js';
import { startTestRuntime, type TestRuntime } from '../../helpers/runtime.js';

describe('ephemeral agent in a Docker sandbox', () => {
  let runtime: TestRuntime;
  before(async () => {
    runtime = await startTestRuntime();
  });
  after(async () => {
    await runtime.stop();
  });

  test('runs its command; the output is the workflow result; the container is gone afterwards', async () => {
    const id = randomId('eph');
    await runtime.ars.createAgent({
      id,
      name: 'echoer',
      sandbox: {
        command: ['node', '-e', 'console.log(JSON.stringify({ sum: 2 + 3, uid: process.getuid() }))'],
      },
    });
    const result = await runtime.ars.result(id);
    assert.equal(result.state, 'Terminated');
    assert.equal(result.result?.outcome, 'succeeded');
    assert.equal(result.result?.exitCode, 0);
    assert.deepEqual(JSON.parse(result.result?.stdout ?? ''), { sum: 5, uid: 10001 });
    const status = await runtime.ars.status(id);
    assert.deepEqual(
      status.history.map((t) => t.to),
      ['Ready', 'Running', 'Completed', 'Terminated'],
    );
    assert.deepEqual(await runtime.containers(), []);
  });

  test('a failing command completes with its exit code and stderr', async () => {
    const id = randomId('eph');
    await runtime.ars.createAgent({
      id,
      name: 'failer',
      sandbox: { command: ['sh', '-c', 'echo oops >&2; exit 3'] },
    });
    const result = await runtime.ars.result(id);
    assert.equal(result.result?.outcome, 'failed');
    assert.equal(result.result?.exitCode, 3);
    assert.equal(result.result?.stderr, 'oops\n');
    assert.deepEqual(await runtime.containers(), []);
  });
});
