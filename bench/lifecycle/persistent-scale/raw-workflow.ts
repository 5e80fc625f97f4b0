/**
 * The raw comparison of the persistent-scale bench: the least a durable idle workflow can do — one
 * workflow task that marks it Ready (the same search-attribute upsert the agent does), then waits for
 * a signal that never comes. No activities, no policy, no audit.
 */
import { condition, defineSignal, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { SEARCH_ATTRIBUTES } from '../../../src/lifecycle/search-attributes.js';

export const stopSignal = defineSignal('stop');

export async function rawIdleWorkflow(): Promise<void> {
  let stopped = false;
  setHandler(stopSignal, () => void (stopped = true));
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.state, value: 'Ready' }]);
  await condition(() => stopped);
}
