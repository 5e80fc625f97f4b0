/**
 * The lifecycle reporter's queue, against a stand-in for Temporal's signal-with-start (the real one
 * is exercised by test/integration/gateway/hosted-workflow.test.ts): each agent's reports are sent in
 * order and one at a time, at most `concurrency` in flight overall; a failing call is retried; a full
 * queue drops activation/hibernation reports but never a process exit; close() flushes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { AgentLifecycleReport } from '../../../src/gateway/index.js';
import { silentLogger } from '../../../src/util/logger.js';
import { WorkflowLifecycleReporter } from '../../../workers/index.js';

interface Call {
  readonly workflowId: string;
  readonly report: AgentLifecycleReport;
}

/** A signal-with-start that records its calls, answers after `delayMs`, and fails the first `failures`. */
function fakeTemporal(delayMs: number, failures = 0) {
  const calls: Call[] = [];
  let active = 0;
  let maxActive = 0;
  let failuresLeft = failures;
  const client = {
    workflow: {
      signalWithStart: async (
        _type: string,
        options: { workflowId: string; signalArgs: [AgentLifecycleReport] },
      ) => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        active -= 1;
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw new Error('temporal unavailable');
        }
        calls.push({ workflowId: options.workflowId, report: options.signalArgs[0] });
      },
    },
  } as unknown as Client;
  return { client, calls, maxActive: () => maxActive };
}

const report = (agentId: string, kind: AgentLifecycleReport['kind'], at: number): AgentLifecycleReport => ({
  kind,
  agentId,
  agentType: 'subject',
  gatewayId: 'gw',
  at,
});

describe('WorkflowLifecycleReporter', () => {
  test("each agent's reports arrive in order, at most `concurrency` in flight", async () => {
    const temporal = fakeTemporal(5);
    const reporter = new WorkflowLifecycleReporter({
      client: temporal.client,
      taskQueue: 'q',
      logger: silentLogger,
      options: { concurrency: 3 },
    });
    for (let at = 0; at < 5; at++)
      for (const agent of ['subject/a', 'subject/b', 'subject/c', 'subject/d', 'subject/e'])
        reporter.report(report(agent, at % 2 ? 'hibernated' : 'activated', at));
    await reporter.close();
    assert.equal(temporal.calls.length, 25);
    assert.equal(temporal.maxActive(), 3);
    for (const agent of ['subject/a', 'subject/b', 'subject/c', 'subject/d', 'subject/e']) {
      const mine = temporal.calls.filter((c) => c.report.agentId === agent);
      assert.deepEqual(
        mine.map((c) => c.report.at),
        [0, 1, 2, 3, 4],
        `${agent}'s reports in order`,
      );
      assert.ok(mine.every((c) => c.workflowId === `hosted-${agent}`));
    }
    assert.deepEqual(reporter.counts, { sent: 25, dropped: 0, queued: 0 });
  });

  test('a failing signal-with-start is retried until it succeeds', async () => {
    const temporal = fakeTemporal(1, 2);
    const reporter = new WorkflowLifecycleReporter({
      client: temporal.client,
      taskQueue: 'q',
      logger: silentLogger,
      options: { retryDelayMs: 5 },
    });
    reporter.report(report('subject/a', 'exited', 1));
    await reporter.close();
    assert.equal(temporal.calls.length, 1);
    assert.equal(temporal.calls[0]?.report.kind, 'exited');
  });

  test('a full queue drops activation and hibernation reports, never a process exit', async () => {
    const temporal = fakeTemporal(20);
    const reporter = new WorkflowLifecycleReporter({
      client: temporal.client,
      taskQueue: 'q',
      logger: silentLogger,
      options: { concurrency: 1, maxQueued: 2 },
    });
    reporter.report(report('subject/a', 'activated', 1)); // in flight at once
    reporter.report(report('subject/b', 'activated', 2)); // queued (1)
    reporter.report(report('subject/c', 'activated', 3)); // queued (2)
    reporter.report(report('subject/d', 'activated', 4)); // full: dropped
    reporter.report(report('subject/e', 'exited', 5)); // full, but an exit: queued
    assert.equal(reporter.counts.dropped, 1);
    await reporter.close();
    assert.deepEqual(
      temporal.calls.map((c) => c.report.agentId),
      ['subject/a', 'subject/b', 'subject/c', 'subject/e'],
    );
  });
});
