/**
 * The agent lifecycle state machine of the seed design, as data. Workflow code applies transitions
 * through `assertTransition`; anything not listed here is a bug and is rejected, never applied.
 *
 * Seed transitions: Initializing → Ready → Running ⇄ Waiting, Running → Suspended → Running,
 * Running → Completed → Ready (persistent) or → Terminated (ephemeral), Initializing → Failed →
 * Terminated, Suspended → Terminated (manual override).
 *
 * ARS adds only operator and failure edges the seed leaves implicit, each marked below: an operator
 * may terminate an agent that is Ready, Running or Waiting (manual override, like Suspended →
 * Terminated), a Waiting agent may be suspended like a Running one, and a Running agent whose
 * sandbox is lost for good (not a task that merely exits non-zero) moves to Failed.
 */
import { ArsError } from '../util/errors.js';

export const AGENT_STATES = [
  'Initializing',
  'Ready',
  'Running',
  'Waiting',
  'Suspended',
  'Completed',
  'Failed',
  'Terminated',
] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export const TRANSITIONS: Readonly<Record<AgentState, readonly AgentState[]>> = {
  Initializing: ['Ready', 'Failed'],
  Ready: ['Running', /* ARS: manual override */ 'Terminated'],
  Running: [
    'Waiting',
    'Suspended',
    'Completed',
    /* ARS: sandbox lost */ 'Failed',
    /* ARS: manual override */ 'Terminated',
  ],
  Waiting: ['Running', /* ARS */ 'Suspended', /* ARS: manual override */ 'Terminated'],
  Suspended: ['Running', 'Terminated'],
  Completed: ['Ready', 'Terminated'],
  Failed: ['Terminated'],
  Terminated: [],
};

export function canTransition(from: AgentState, to: AgentState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A transition that the state machine does not allow was attempted; nothing changed. */
export class IllegalTransitionError extends ArsError {
  readonly code = 'ARS_ILLEGAL_TRANSITION';

  constructor(
    readonly from: AgentState,
    readonly to: AgentState,
    readonly reason: string,
  ) {
    const allowed = TRANSITIONS[from];
    super(
      `agent cannot go from ${from} to ${to} (${reason}); from ${from} it may go to ${allowed.length ? allowed.join(', ') : 'nothing: it has ended'}`,
    );
  }
}

export function assertTransition(from: AgentState, to: AgentState, reason: string): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to, reason);
}

/** One applied transition, as kept in the workflow's history query. */
export interface TransitionRecord {
  readonly from: AgentState;
  readonly to: AgentState;
  readonly reason: string;
  /** Workflow time, epoch milliseconds. */
  readonly at: number;
}

/** A requested transition that was refused (e.g. `resume` while Ready), kept for operators to see. */
export interface RejectedRequest {
  readonly request: string;
  readonly state: AgentState;
  readonly message: string;
  readonly at: number;
}
