import type { Client } from '@temporalio/client';
import type { PolicyEngine } from '../src/policy/index.js';
import type { Logger } from '../src/util/logger.js';
import {
  AGENT_WORKFLOW_TYPE,
  policyClearedSignal,
  policyViolationSignal,
  statusQuery,
} from '../workflows/definitions.js';

/**
 * How often running agents are re-checked even without a policy reload (for policies that depend
 * on the time of day). A sweep queries every live agent (about 50/s here), so with 10,000 agents
 * one sweep takes minutes: the interval must stay above that. Reloads always sweep at once.
 * @default 300_000 (5 minutes)
 */
export const DEFAULT_ENFORCE_INTERVAL_MS = 300_000;

export interface PolicyEnforcerOptions {
  readonly client: Client;
  readonly policy: PolicyEngine;
  readonly logger: Logger;
  /** Only agents whose workflows run on this control task queue. */
  readonly taskQueue: string;
  /** @default DEFAULT_ENFORCE_INTERVAL_MS */
  readonly intervalMs?: number;
}

export interface PolicyEnforcer {
  /** Re-checks every running agent now; resolves with the number of agents signalled. */
  sweep(): Promise<number>;
  /** Stops re-checking; resolves when a sweep in flight has let go of the Temporal client. */
  stop(): Promise<void>;
}

/**
 * Runtime policy enforcement: after every policy reload (and on an interval), asks the creation
 * policies again for each live agent. An agent the policies no longer permit gets the
 * `policyViolation` signal (Running → Suspended); one permitted again gets `policyCleared`.
 */
export function startPolicyEnforcer(options: PolicyEnforcerOptions): PolicyEnforcer {
  const { client, policy, logger, taskQueue } = options;
  let running: Promise<number> | undefined;
  let again = false;
  let stopped = false;

  async function sweepOnce(): Promise<number> {
    let signalled = 0;
    const query = `WorkflowType = '${AGENT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
    for await (const execution of client.workflow.list({ query })) {
      if (stopped) break; // the worker is shutting down: its Temporal connection is about to close
      const handle = client.workflow.getHandle(execution.workflowId);
      try {
        const status = await handle.query(statusQuery);
        if (status.state === 'Terminated') continue;
        const decision = policy.checkCreateAgent(status.config);
        if (decision.decision !== 'allow' && !status.violation) {
          const reasons = [...decision.reasons, ...decision.errors];
          await handle.signal(
            policyViolationSignal,
            reasons.length ? reasons : ['no policy permits the agent (deny by default)'],
          );
          logger.warn({ agentId: status.agentId, reasons }, 'agent violates policy; suspending it');
          signalled += 1;
        } else if (decision.decision === 'allow' && status.violation) {
          await handle.signal(
            policyClearedSignal,
            `policy version ${policy.version} permits the agent again`,
          );
          logger.info({ agentId: status.agentId }, 'policy violation cleared');
          signalled += 1;
        }
      } catch (error) {
        logger.warn(
          { err: error, workflowId: execution.workflowId },
          'policy re-check of an agent failed; will retry',
        );
      }
    }
    return signalled;
  }

  function sweep(): Promise<number> {
    if (stopped) return Promise.resolve(0);
    if (running) {
      again = true;
      return running;
    }
    running = sweepOnce().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        safeSweep(); // a reload arrived during the sweep
      }
    });
    return running;
  }

  function safeSweep(): void {
    sweep().catch((error: unknown) => {
      if (!stopped) logger.warn({ err: error }, 'policy sweep failed');
    });
  }
  const unsubscribe = policy.onReload(safeSweep);
  const timer = setInterval(safeSweep, options.intervalMs ?? DEFAULT_ENFORCE_INTERVAL_MS);
  timer.unref();
  return {
    sweep,
    async stop() {
      stopped = true;
      unsubscribe();
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
