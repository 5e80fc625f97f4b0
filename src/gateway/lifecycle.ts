/**
 * What a gateway tells about the lifecycle of the agent instances it hosts. A host worker turns each
 * report into a signal to the agent's workflow (workers/agent-lifecycle-reporter.ts), so that every
 * agent hosted by gateways has a durable record in Temporal: where it is active, when it hibernated,
 * and when its process died.
 */

/** The lifecycle events a gateway reports for one agent instance. */
export const AGENT_LIFECYCLE_KINDS = ['activated', 'hibernated', 'exited'] as const;
export type AgentLifecycleKind = (typeof AGENT_LIFECYCLE_KINDS)[number];

export interface AgentLifecycleReport {
  /**
   * activated: the instance became active on the gateway (its first message there, state restored
   * from its checkpoint if it had one); hibernated: its state was checkpointed and it was dropped
   * (idle timeout, an explicit deactivate, the gateway shutting down); exited: the agent process
   * that held it died, and the instance falls back to its last checkpoint.
   */
  readonly kind: AgentLifecycleKind;
  readonly agentId: string;
  readonly agentType: string;
  readonly gatewayId: string;
  /** When the gateway saw it, epoch ms. */
  readonly at: number;
  /** Why (hibernated, exited). */
  readonly reason?: string;
}

/** Receives a gateway's lifecycle reports. Calls must return at once and never throw. */
export interface AgentLifecycleListener {
  report(report: AgentLifecycleReport): void;
}
