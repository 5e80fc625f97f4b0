/**
 * The check `createSchedule` runs before creating anything, as `ars apply` does: the policy directory
 * the control worker enforces (settings.policyDir) is loaded into a fresh engine and asked the
 * creation hook (CreateAgent, UseTier) and the allocation hook (AllocateResources) for the agent.
 * The control worker asks again at every run; this check refuses a schedule that could never run.
 */
import type { AgentConfig } from '../config/index.js';
import { PolicyEngine, combineDecisions, type PolicyDecision } from '../policy/index.js';

/** Asks the policies in `policyDir` whether `config` may be created on host `hostId`. Fails closed. */
export function checkSchedulePolicy(config: AgentConfig, policyDir: string, hostId: string): PolicyDecision {
  const engine = new PolicyEngine({ policyDir, cacheSize: 0 });
  try {
    return combineDecisions([
      engine.checkCreateAgent(config),
      engine.checkAllocate({
        agent: config.name,
        pool: hostId,
        limits: config.resources,
        tier: config.tier,
        risk: config.risk,
      }),
    ]);
  } finally {
    engine.close();
  }
}
