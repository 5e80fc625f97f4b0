/**
 * A small multi-agent system: a coordinator fans a job out to worker agents with request/response,
 * sums their answers, keeps a count of finished jobs in its state and publishes the result on the
 * `jobs.done` topic. The same module runs in-process and, unchanged, in the sandboxed agent host.
 */
import { z } from 'zod';
import { defineAgent } from '../../src/sdk/index.js';

/** Workers a coordinator fans out to: `worker/0` … `worker/{WORKERS-1}`. */
export const WORKERS = 3;
export const RESULTS_TOPIC = 'jobs.done';

export const worker = defineAgent({
  type: 'worker',
  state: z.object({ handled: z.number().int().nonnegative() }).default({ handled: 0 }),
  messages: {
    square: z.object({ n: z.number().int() }),
  },
  handlers: {
    square: ({ n }, ctx) => {
      ctx.state.set({ handled: ctx.state.get().handled + 1 });
      return { n, square: n * n, by: ctx.agentId };
    },
  },
});

export const coordinator = defineAgent({
  type: 'coordinator',
  state: z.object({ jobs: z.number().int().nonnegative(), total: z.number() }).default({ jobs: 0, total: 0 }),
  messages: {
    job: z.object({ id: z.string().min(1), items: z.array(z.number().int()).min(1).max(1000) }),
  },
  handlers: {
    job: async ({ id, items }, ctx) => {
      const answers = await Promise.all(
        items.map((n, i) =>
          ctx.request<{ square: number; by: string }>(
            `worker/${i % WORKERS}`,
            'square',
            { n },
            { timeoutMs: 10_000 },
          ),
        ),
      );
      const sum = answers.reduce((acc, a) => acc + a.square, 0);
      const state = ctx.state.get();
      ctx.state.set({ jobs: state.jobs + 1, total: state.total + sum });
      await ctx.state.save();
      const byWorker = [...new Set(answers.map((a) => a.by))].sort();
      await ctx.publish(RESULTS_TOPIC, 'job-done', { id, sum, byWorker });
      return { id, sum, byWorker };
    },
  },
  task: z.object({ items: z.array(z.number().int()).min(1) }),
  // Ephemeral use: runtime.run('coordinator', { items }) fans out once and is discarded.
  run: async ({ items }, ctx) => {
    const answers = await Promise.all(
      items.map((n, i) => ctx.request<{ square: number }>(`worker/${i % WORKERS}`, 'square', { n })),
    );
    return answers.reduce((acc, a) => acc + a.square, 0);
  },
});

/** Collects `job-done` events (a results sink; subscribe it to RESULTS_TOPIC). */
export const ledger = defineAgent({
  type: 'ledger',
  state: z.object({ done: z.array(z.string()) }).default({ done: [] }),
  messages: {
    'job-done': z.object({ id: z.string(), sum: z.number(), byWorker: z.array(z.string()) }),
    list: z.object({}),
  },
  handlers: {
    'job-done': ({ id }, ctx) => ctx.state.set({ done: [...ctx.state.get().done, id] }),
    list: (_msg, ctx) => ctx.state.get().done,
  },
});

export const agents = [coordinator, worker, ledger];
