/**
 * Determinism across versions of the agent workflow: histories recorded before a change (in
 * fixtures/) must replay with today's workflow code. Replay needs no server: the Temporal worker
 * runs the workflow code against the recorded events and fails on any command that differs.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import { installQuietRuntime, workflowSource } from '../../../workers/index.js';
import { PERSISTENT_READY_BEFORE_LOCAL_ADMISSION } from './fixtures/agent-histories.js';

/**
 * Decodes a JSON history (as `temporal workflow show --output json` writes it). The SDK's own
 * historyFromJSON cannot be used in this checkout: npm installed two copies of protobufjs 8 (one
 * under @temporalio/common, one under @temporalio/proto) and the SDK mixes them ("type must be a
 * Type"). This decodes with the copy that @temporalio/proto's types belong to.
 */
function historyFromJson(json: unknown): unknown {
  const require = createRequire(import.meta.url);
  const fromProto = createRequire(require.resolve('@temporalio/proto'));
  const { fromJson } = fromProto('protobufjs/ext/protojson') as {
    fromJson: (type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }) => unknown;
  };
  const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as {
    patchProtobufRoot: (root: unknown) => { lookupType(name: string): unknown };
  };
  const root = patchProtobufRoot(require('@temporalio/proto'));
  return fromJson(root.lookupType('temporal.api.history.v1.History'), json, { ignoreUnknownFields: true });
}

interface JsonEvent {
  readonly eventType: string;
  readonly activityTaskScheduledEventAttributes?: { readonly activityType: { readonly name: string } };
}

describe('agent workflow replay', () => {
  test('a persistent agent admitted by an activity task (before local admission) replays', async () => {
    installQuietRuntime();
    const events = (PERSISTENT_READY_BEFORE_LOCAL_ADMISSION as { events: JsonEvent[] }).events;
    // The fixture is what it claims: admission and preparation as activity tasks, no markers.
    assert.deepEqual(
      events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType.name ?? []),
      ['admitAgent', 'prepareSandbox'],
    );
    assert.ok(!events.some((e) => e.eventType === 'EVENT_TYPE_MARKER_RECORDED'));
    await Worker.runReplayHistory(
      { ...workflowSource(), replayName: 'before-local-admission' },
      historyFromJson(PERSISTENT_READY_BEFORE_LOCAL_ADMISSION),
      'agent-replay-before-local-admission',
    );
  });
});
