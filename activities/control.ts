import type { AuditEventInput, AuditLog } from '../src/audit/index.js';
import type { AgentConfig } from '../src/config/index.js';
import {
  SANDBOX_SCRATCH_RESOURCE_ID,
  SYSTEM_OPERATOR,
  type PolicyDecision,
  type PolicyEngine,
} from '../src/policy/index.js';
import type { SandboxGrants } from '../src/sandbox/index.js';
import type { TriggerRegistry } from '../src/gateway/index.js';
import { ApplicationFailure } from '@temporalio/common';

export interface ControlActivityDeps {
  readonly policy: PolicyEngine;
  readonly audit: AuditLog;
  /** Event-driven agents' triggers (absent: such agents fail with a clear error). */
  readonly triggers?: TriggerRegistry;
}

export interface RegisterTriggerInput {
  readonly config: AgentConfig;
  readonly hostId: string;
  readonly controlTaskQueue: string;
  readonly eventId: string;
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

export interface GrantCapabilitiesInput {
  readonly config: AgentConfig;
  readonly hostId: string;
  /** The task whose sandbox is about to be created. */
  readonly taskSeq: number;
  readonly eventId: string;
}

/** What one task's sandbox may do, and the decision behind it. */
export interface CapabilityGrants {
  /** Give to `createSandbox` as its `grants`. */
  readonly sandbox: SandboxGrants;
  /** No sandbox has a network interface, whatever the policies say. */
  readonly network: false;
  /** The `capability:write` decision on the scratch space. */
  readonly write: DecisionRecord;
}

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
export function createControlActivities(deps: ControlActivityDeps) {
  const { policy, audit } = deps;
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

    /**
     * Before each task's sandbox is created: asks policy for the capabilities the sandbox enforces
     * itself — `capability:write` on `Ars::Resource::"sandbox:/scratch"` — and audits the decision
     * (a denial also as a `security.event`). The engine first reloads if its files changed on disk, so
     * a policy written just before (`ars apply`, an operator) applies to this task. Idempotent apart
     * from the audit entries, which a retry may append again with the same `eventId`.
     */
    async grantSandboxCapabilities({
      config,
      hostId,
      taskSeq,
      eventId,
    }: GrantCapabilitiesInput): Promise<CapabilityGrants> {
      policy.refresh();
      const { grants, write } = policy.checkSandboxCapabilities({
        agent: config.name,
        hostId,
        scratchMb: config.resources.scratchMb,
      });
      const taskEventId = `${eventId}:task-${taskSeq}`;
      const decided = decisionEvent(
        config.id,
        'capability:write',
        `Agent::${config.name}`,
        `Resource::${SANDBOX_SCRATCH_RESOURCE_ID}`,
        write,
        `${taskEventId}:write`,
      );
      const events: AuditEventInput[] = [
        {
          ...decided,
          data: { ...decided.data, task: taskSeq, granted: { write: grants.write, network: false } },
        },
      ];
      if (!grants.write) {
        const why =
          [...write.reasons, ...write.errors].join('; ') || 'no policy permits it (deny by default)';
        events.push({
          kind: 'security.event',
          agentId: config.id,
          actor: 'policy',
          data: {
            type: 'capability_denied',
            severity: write.errors.length > 0 ? 'warning' : 'info',
            capability: 'write',
            resource: SANDBOX_SCRATCH_RESOURCE_ID,
            task: taskSeq,
            message: `capability write denied on ${SANDBOX_SCRATCH_RESOURCE_ID} for task ${taskSeq}: ${why}; /tmp and /scratch are read-only`,
            eventId: taskEventId,
          },
        });
      }
      await audit.appendMany(events);
      return { sandbox: { write: grants.write }, network: false, write: plain(write) };
    },

    /** Subscribes an event-driven agent's trigger to its topic (idempotent). */
    async registerTrigger(input: RegisterTriggerInput): Promise<void> {
      if (!deps.triggers)
        throw ApplicationFailure.nonRetryable(
          'this control worker has no trigger registry (it runs without the agent gateway); event-driven agents need one',
          'TriggersUnavailable',
        );
      const { eventId, ...registration } = input;
      await deps.triggers.register(registration);
      await audit.appendMany([
        {
          kind: 'security.event',
          agentId: input.config.id,
          actor: 'operator:system',
          data: {
            type: 'trigger_registered',
            severity: 'info',
            message: `events on topic ${input.config.trigger?.topic ?? ''} start or wake the agent`,
            eventId: `${eventId}:trigger`,
          },
        },
      ]);
    },

    /** Removes an event-driven agent's trigger (idempotent). */
    async unregisterTrigger({ config }: { config: AgentConfig }): Promise<void> {
      if (deps.triggers && config.trigger) await deps.triggers.unregister(config.id, config.trigger.topic);
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
