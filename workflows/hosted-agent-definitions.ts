/**
 * The public surface of the hosted agent workflow — the durable record of one SDK agent instance
 * that runs in the runtime's gateways — shared by the workflow, the host worker's reporter and the
 * client. Types and definitions only: safe to import anywhere.
 */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AgentLifecycleReport } from '../src/gateway/lifecycle.js';
import type { AgentState, TransitionRecord } from '../src/lifecycle/states.js';

export const HOSTED_AGENT_WORKFLOW_TYPE = 'hostedAgentWorkflow';

/** Workflow id of a hosted agent instance (`<type>/<key>`). */
export function hostedAgentWorkflowId(agentId: string): string {
  return `hosted-${agentId}`;
}

/** Summary carried across continue-as-new. */
export interface HostedAgentCarried {
  readonly state: AgentState;
  readonly gatewayId?: string;
  readonly activations: number;
  readonly hibernations: number;
  readonly exits: number;
  readonly history: TransitionRecord[];
  readonly reports: AgentLifecycleReport[];
  readonly runs: number;
}

export interface HostedAgentWorkflowInput {
  readonly agentId: string;
  readonly agentType: string;
  readonly carried?: HostedAgentCarried;
}

export interface HostedAgentStatus {
  readonly agentId: string;
  readonly agentType: string;
  /** Running: active on `gatewayId`; Waiting: hibernated or its process died (the next message wakes it). */
  readonly state: AgentState;
  /** The gateway it is, or was last, active on. */
  readonly gatewayId?: string;
  readonly activations: number;
  readonly hibernations: number;
  /** How often the agent process holding it died. */
  readonly exits: number;
  /** Applied transitions, oldest first (the most recent ones). */
  readonly history: readonly TransitionRecord[];
  /** The most recent reports from the gateways, oldest first. */
  readonly reports: readonly AgentLifecycleReport[];
  /** Reports refused as malformed, with the reason. */
  readonly refused: readonly { readonly message: string; readonly at: number }[];
  readonly runs: number;
}

/** A gateway's report about the instance (activated, hibernated, its process exited). */
export const lifecycleReportSignal = defineSignal<[AgentLifecycleReport]>('lifecycleReport');
/** The instance's record; the same query name as the agent workflow's. */
export const hostedStatusQuery = defineQuery<HostedAgentStatus>('status');
