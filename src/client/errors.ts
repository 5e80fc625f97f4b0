import type { AgentState } from '../lifecycle/states.js';
import { ArsError } from '../util/errors.js';

/** No agent workflow with this id exists in the namespace. */
export class AgentNotFoundError extends ArsError {
  readonly code = 'ARS_AGENT_NOT_FOUND';

  constructor(readonly agentId: string) {
    super(`no agent '${agentId}' exists; 'ars ps' lists the agents`);
  }
}

/** An agent with this id is still running; nothing was started. */
export class AgentExistsError extends ArsError {
  readonly code = 'ARS_AGENT_EXISTS';

  constructor(readonly agentId: string) {
    super(`agent '${agentId}' already exists and is still running; choose another id, or terminate it first`);
  }
}

/** The request does not apply to the agent's current state; nothing was sent. */
export class AgentStateError extends ArsError {
  readonly code = 'ARS_AGENT_STATE';

  constructor(
    readonly agentId: string,
    readonly state: AgentState,
    readonly request: string,
    readonly allowedIn: readonly AgentState[],
  ) {
    super(
      `cannot ${request} agent '${agentId}': it is ${state}; ${request} applies only to an agent that is ${allowedIn.join(' or ')}`,
    );
  }
}

/** The agent refused a task (not persistent, not Ready, or the task is invalid). */
export class TaskRejectedError extends ArsError {
  readonly code = 'ARS_TASK_REJECTED';

  constructor(
    readonly agentId: string,
    reason: string,
  ) {
    super(`agent '${agentId}' rejected the task: ${reason}`);
  }
}

/** The agent ended in failure (initialization or its sandbox failed). */
export class AgentFailedError extends ArsError {
  readonly code = 'ARS_AGENT_FAILED';

  constructor(
    readonly agentId: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`agent '${agentId}' failed: ${reason}`, options);
  }
}

/** Waiting for something took longer than allowed. */
export class AgentWaitTimeoutError extends ArsError {
  readonly code = 'ARS_WAIT_TIMEOUT';

  constructor(
    readonly agentId: string,
    what: string,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for agent '${agentId}' ${what}`);
  }
}
