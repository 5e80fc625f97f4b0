import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServiceError } from '@temporalio/client';
import { queryTwice } from '../../../src/client/ars-client.js';

describe('workflow queries dropped with an evicted run are asked again', () => {
  test('"Failed to query Workflow" once: the second answer is returned', async () => {
    let calls = 0;
    const answer = await queryTwice(() =>
      ++calls === 1
        ? Promise.reject(new ServiceError('Failed to query Workflow'))
        : Promise.resolve('status'),
    );
    assert.equal(answer, 'status');
    assert.equal(calls, 2);
  });

  test('any other error, or the same failure twice, is thrown as it is', async () => {
    let calls = 0;
    const other = new ServiceError('Workflow not found');
    await assert.rejects(
      queryTwice(() => {
        calls++;
        return Promise.reject(other);
      }),
      (e) => e === other,
    );
    assert.equal(calls, 1, 'not asked again');
    calls = 0;
    await assert.rejects(
      queryTwice(() => {
        calls++;
        return Promise.reject(new ServiceError('Failed to query Workflow'));
      }),
      /Failed to query Workflow/,
    );
    assert.equal(calls, 2, 'asked twice, no more');
  });
});
