/**
 * The agent workflow's public surface — its input, result, signals, query and update — shared by
 * the workflow and the client. Types and definitions only: safe to import anywhere.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AgentConfig, ExecutionMode, SecurityTier, TaskInput } from '../src/config/agent-config.js';
import type { AgentState, RejectedRequest, TransitionRecord } from '../src/lifecycle/states.js';

/** Where the agent's sandboxes run: the host worker that owns them and its task queue. */
export interface Placement {
  readonly hostId: string;
  readonly hostQueue: string;
  /** The resolved sandbox image (the config's, else the runtime default). */
  readonly image: string;
}

/** How one task ended. `outcome` summarises exit code, timeout and OOM. */
export interface TaskResult {
  readonly taskId: string;
  readonly seq: number;
  readonly command: readonly string[];
  readonly outcome: 'succeeded' | 'failed' | 'timed_out' | 'oom_killed' | 'terminated';
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly truncated: boolean;
  readonly durationMs: number;
  /** When the sandbox process started (epoch ms; 0 if it never did). */
  readonly startedAt: number;
}

/** State carried across continue-as-new by persistent agents. */
export interface CarriedState {
  readonly history: TransitionRecord[];
  readonly rejected: RejectedRequest[];
  readonly results: TaskResult[];
  readonly taskSeq: number;
  readonly tasksCompleted: number;
  readonly runs: number;
}

export interface AgentWorkflowInput {
  readonly config: AgentConfig;
  readonly placement: Placement;
  readonly carried?: CarriedState;
  /** Event-driven agents: events that arrived while the previous run went into hibernation. */
  readonly events?: AgentEvent[];
}

export interface AgentResult {
  readonly agentId: string;
  readonly name: string;
  readonly mode: ExecutionMode;
  readonly state: AgentState;
  readonly tasksCompleted: number;
  /** The last task's result (for an ephemeral agent: its only task). */
  readonly result?: TaskResult;
  readonly reason: string;
}

export interface AgentStatus {
  readonly agentId: string;
  /** The compiled config the agent runs with (the policy enforcer re-checks it). */
  readonly config: AgentConfig;
  /** Set while the agent violates policy: it is suspended, or takes no tasks, until cleared. */
  readonly violation?: { readonly reasons: readonly string[]; readonly at: number };
  readonly name: string;
  readonly mode: ExecutionMode;
  readonly tier: SecurityTier;
  readonly host: string;
  readonly state: AgentState;
  readonly currentTask?: { readonly taskId: string; readonly seq: number; readonly containerId?: string };
  /** Applied transitions, oldest first (persistent agents keep the most recent ones). */
  readonly history: readonly TransitionRecord[];
  /** Requests refused because the state did not allow them. */
  readonly rejected: readonly RejectedRequest[];
  /** Most recent task results, oldest first. */
  readonly results: readonly TaskResult[];
  readonly tasksCompleted: number;
  /** Completed continue-as-new runs of this agent. */
  readonly runs: number;
}

export interface TaskAssignment {
  readonly taskId: string;
  readonly seq: number;
}

/** Pause the running task's sandbox: Running → Suspended. */
export const suspendSignal = defineSignal<[reason?: string]>('suspend');
/** Unpause it: Suspended → Running. */
export const resumeSignal = defineSignal<[reason?: string]>('resume');
/** Stop the agent for good, destroying its sandbox: → Terminated. */
export const terminateSignal = defineSignal<[reason?: string]>('terminate');
export const statusQuery = defineQuery<AgentStatus>('status');
/** The runtime found the agent in violation of policy: Running → Suspended (the seed's edge). */
export const policyViolationSignal = defineSignal<[reasons: string[]]>('policyViolation');
/** The violation is gone: an agent suspended for it resumes (Suspended → Running). */
export const policyClearedSignal = defineSignal<[reason?: string]>('policyCleared');
/** Give a Ready persistent agent a task; rejected in any other state. */
/** A bus event delivered to an event-driven agent (signal-with-start by the trigger). */
export interface AgentEvent {
  readonly topic: string;
  readonly type: string;
  readonly payload: unknown;
  /** The publishing agent, absent for publishes from outside. */
  readonly from?: string;
  readonly at: number;
}
/** An event for an event-driven agent: starts it if it is hibernated, else queues a task. */
export const eventSignal = defineSignal<[AgentEvent]>('event');
export const assignTaskUpdate = defineUpdate<TaskAssignment, [TaskInput]>('assignTask');

export const AGENT_WORKFLOW_TYPE = 'agentWorkflow';

/** The states in which each operator signal can apply (the workflow refuses it in any other). */
export const OPERATOR_REQUEST_STATES: Readonly<
  Record<'suspend' | 'resume' | 'terminate', readonly AgentState[]>
> = {
  suspend: ['Running', 'Waiting'],
  resume: ['Suspended'],
  terminate: ['Initializing', 'Ready', 'Running', 'Waiting', 'Suspended', 'Completed'],
};

/** Workflow id of an agent. */
export function agentWorkflowId(agentId: string): string {
  return `agent-${agentId}`;
}
