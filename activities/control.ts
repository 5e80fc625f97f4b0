import type { AuditEventInput, AuditLog } from '../src/audit/index.js';
import type { AgentConfig } from '../src/config/index.js';
import { SYSTEM_OPERATOR, type PolicyDecision, type PolicyEngine } from '../src/policy/index.js';

export interface ControlActivityDeps {
  readonly policy: PolicyEngine;
  readonly audit: AuditLog;
}

/** A policy decision as it crosses into workflow code (plain, serialisable). */
export interface DecisionRecord {
  readonly decision: 'allow' | 'deny';
  readonly reasons: readonly string[];
  readonly errors: readonly string[];
}

export interface AdmitAgentInput {
  readonly config: AgentConfig;
  readonly hostId: string;
  /** Makes audit entries of a retried activity recognisable (workflow id + run id). */
  readonly eventId: string;
}

export type Admission =
  | { readonly admitted: true; readonly creation: DecisionRecord; readonly allocation: DecisionRecord }
  | {
      readonly admitted: false;
      readonly stage: 'creation' | 'allocation';
      readonly decision: DecisionRecord;
    };

export interface TerminationInput {
  readonly config: AgentConfig;
  readonly reason: string;
  readonly exitCode?: number;
  readonly eventId: string;
}

const plain = (decision: PolicyDecision): DecisionRecord => ({
  decision: decision.decision,
  reasons: [...decision.reasons],
  errors: [...decision.errors],
});

/**
 * Control activities, run by the control worker: the policy hooks of agent creation, resource
 * allocation and termination, and the audit trail of the lifecycle. Every decision is audited with
 * its reasons. Audit appends are at-least-once: a retried activity may append an event again, with
 * the same `eventId` in its data so the duplicate is recognisable.
 */
export function createControlActivities({ policy, audit }: ControlActivityDeps) {
  const decisionEvent = (
    agentId: string,
    action: string,
    principal: string,
    resource: string,
    decision: PolicyDecision,
    eventId: string,
  ): AuditEventInput => ({
    kind: 'policy.decision',
    agentId,
    actor: 'policy',
    data: {
      action,
      principal,
      resource,
      decision: decision.decision,
      reasons: [...decision.reasons],
      errors: [...decision.errors],
      eventId,
    },
  });

  return {
    /**
     * The hooks before agent creation and before resource allocation. A deny stops here: nothing
     * is created or allocated, and the denial is audited with its reasons.
     */
    async admitAgent({ config, hostId, eventId }: AdmitAgentInput): Promise<Admission> {
      const creation = policy.checkCreateAgent(config);
      const agent = `Agent::${config.name}`;
      const events: AuditEventInput[] = [
        decisionEvent(
          config.id,
          'CreateAgent',
          `Operator::${SYSTEM_OPERATOR.id}`,
          agent,
          creation,
          `${eventId}:create`,
        ),
      ];
      if (creation.decision !== 'allow') {
        events.push(securityEvent(config.id, 'creation_denied', creation, eventId));
        await audit.appendMany(events);
        return { admitted: false, stage: 'creation', decision: plain(creation) };
      }
      const allocation = policy.checkAllocate({
        agent: config.name,
        pool: hostId,
        limits: config.resources,
        tier: config.tier,
        risk: config.risk,
      });
      events.push(
        decisionEvent(
          config.id,
          'AllocateResources',
          agent,
          `ResourcePool::${hostId}`,
          allocation,
          `${eventId}:allocate`,
        ),
      );
      if (allocation.decision !== 'allow') {
        events.push(securityEvent(config.id, 'allocation_denied', allocation, eventId));
        await audit.appendMany(events);
        return { admitted: false, stage: 'allocation', decision: plain(allocation) };
      }
      events.push(
        {
          kind: 'agent.created',
          agentId: config.id,
          actor: 'operator:system',
          data: {
            name: config.name,
            tier: config.tier,
            mode: config.mode,
            capabilities: config.capabilities,
            eventId,
          },
        },
        {
          kind: 'resource.allocated',
          agentId: config.id,
          actor: `host:${hostId}`,
          data: {
            memoryMb: config.resources.memoryMb,
            cpus: config.resources.cpus,
            timeoutMs: config.resources.timeoutMs,
            pool: hostId,
            eventId,
          },
        },
      );
      await audit.appendMany(events);
      return { admitted: true, creation: plain(creation), allocation: plain(allocation) };
    },

    /** Appends lifecycle events in order (one call per batch). */
    async recordEvents(events: readonly AuditEventInput[]): Promise<void> {
      await audit.appendMany(events);
    },

    /** The hook after termination; audits the decision and the termination. */
    async afterTermination({ config, reason, exitCode, eventId }: TerminationInput): Promise<DecisionRecord> {
      const decision = policy.afterTermination({
        agent: config.name,
        by: SYSTEM_OPERATOR,
        reason,
        ...(exitCode === undefined ? {} : { exitCode }),
      });
      await audit.appendMany([
        decisionEvent(
          config.id,
          'Terminate',
          `Operator::${SYSTEM_OPERATOR.id}`,
          `Agent::${config.name}`,
          decision,
          `${eventId}:terminate`,
        ),
        {
          kind: 'agent.terminated',
          agentId: config.id,
          actor: 'operator:system',
          data: { reason, ...(exitCode === undefined ? {} : { exitCode }), eventId },
        },
      ]);
      return plain(decision);
    },
  };
}

function securityEvent(
  agentId: string,
  type: string,
  decision: PolicyDecision,
  eventId: string,
): AuditEventInput {
  return {
    kind: 'security.event',
    agentId,
    actor: 'policy',
    data: {
      type,
      severity: 'warning',
      message: `${type.replace('_', ' ')}: ${[...decision.reasons, ...decision.errors].join('; ') || 'no policy permits it (deny by default)'}`,
      eventId,
    },
  };
}

export type ControlActivities = ReturnType<typeof createControlActivities>;
