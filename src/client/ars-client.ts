import {
  Client,
  Connection,
  ServiceError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  agentWorkflowId,
  assignTaskUpdate,
  resumeSignal,
  statusQuery,
  suspendSignal,
  terminateSignal,
  AGENT_WORKFLOW_TYPE,
  OPERATOR_REQUEST_STATES,
  type AgentResult,
  type AgentStatus,
  type TaskAssignment,
  type TaskResult,
} from '../../workflows/definitions.js';
import {
  hostedAgentWorkflowId,
  hostedStatusQuery,
  HOSTED_AGENT_WORKFLOW_TYPE,
  type HostedAgentStatus,
} from '../../workflows/hosted-agent-definitions.js';
import {
  compileAgentConfig,
  compileSettings,
  compileTask,
  workflowUiUrl,
  type AgentConfig,
  type Settings,
  type TaskInput,
} from '../config/index.js';
import { SEARCH_ATTRIBUTES } from '../lifecycle/search-attributes.js';
import { agentWorkflowStart, type AgentPlacementOptions } from './start-options.js';
import type { AgentState } from '../lifecycle/states.js';
import {
  AgentExistsError,
  AgentFailedError,
  AgentNotFoundError,
  AgentStateError,
  AgentWaitTimeoutError,
  TaskRejectedError,
} from './errors.js';

export type CreateAgentOptions = AgentPlacementOptions;

/** One agent as listed by `list()` (from Temporal visibility, without querying each workflow). */
export interface AgentSummary {
  readonly agentId: string;
  readonly workflowId: string;
  readonly name: string;
  readonly state: string;
  readonly tier: string;
  readonly mode: string;
  readonly host: string;
  readonly workflowStatus: string;
  readonly startTime: Date;
}

export interface ListOptions {
  readonly state?: AgentState;
  readonly name?: string;
  /** Include closed workflows. @default false */
  readonly all?: boolean;
  /** @default 100 */
  readonly limit?: number;
  /** Also list SDK agent instances hosted by gateways (mode `hosted`). @default true */
  readonly hosted?: boolean;
}

/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW */
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/**
 * The typed client of ARS: creates agents (one durable workflow each) and steers them with the
 * lifecycle's signals, query and update.
 */
export class ArsClient {
  constructor(
    readonly temporal: Client,
    readonly settings: Settings,
  ) {}

  /** Connects to the Temporal server named by the settings (ARS_* variables, then defaults). */
  static async connect(settings: Settings = compileSettings()): Promise<ArsClient> {
    const connection = await Connection.connect({ address: settings.temporalAddress });
    return new ArsClient(new Client({ connection, namespace: settings.namespace }), settings);
  }

  async close(): Promise<void> {
    await this.temporal.connection.close();
  }

  /**
   * Validates the config (throws ConfigError naming each bad field, creating nothing), then starts
   * the agent's workflow. Returns the compiled config, with its id.
   */
  async createAgent(input: unknown, options: CreateAgentOptions = {}): Promise<AgentConfig> {
    const config = compileAgentConfig(input);
    try {
      await this.temporal.workflow.start(
        AGENT_WORKFLOW_TYPE,
        agentWorkflowStart(config, this.settings, options),
      );
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) {
        throw new AgentExistsError(config.id);
      }
      throw error;
    }
    return config;
  }

  async status(agentId: string): Promise<AgentStatus> {
    try {
      return await queryTwice(() => this.handle(agentId).query(statusQuery));
    } catch (error) {
      throw this.notFound(agentId, error);
    }
  }

  /** The record of an SDK agent instance hosted by the gateways (`<type>/<key>`). */
  async hostedStatus(agentId: string): Promise<HostedAgentStatus> {
    try {
      const handle = this.temporal.workflow.getHandle(hostedAgentWorkflowId(agentId));
      return await queryTwice(() => handle.query(hostedStatusQuery));
    } catch (error) {
      throw this.notFound(agentId, error);
    }
  }

  async suspend(agentId: string, reason?: string): Promise<void> {
    await this.steer(agentId, 'suspend', reason);
  }

  async resume(agentId: string, reason?: string): Promise<void> {
    await this.steer(agentId, 'resume', reason);
  }

  async terminate(agentId: string, reason?: string): Promise<void> {
    await this.steer(agentId, 'terminate', reason);
  }

  private async steer(
    agentId: string,
    request: 'suspend' | 'resume' | 'terminate',
    reason?: string,
  ): Promise<void> {
    const status = await this.status(agentId);
    const { state } = status;
    if (request === 'terminate' && state === 'Terminated' && status.config.mode === 'event-driven') {
      // A hibernated event-driven agent is only asleep: start a run that ends at once (and removes
      // its trigger), so no later event wakes it.
      await this.temporal.workflow.signalWithStart(AGENT_WORKFLOW_TYPE, {
        ...agentWorkflowStart(status.config, this.settings, { hostId: status.host }),
        signal: terminateSignal,
        signalArgs: [reason ?? 'terminate requested by client'],
      });
      return;
    }
    const allowed = OPERATOR_REQUEST_STATES[request];
    if (!allowed.includes(state)) throw new AgentStateError(agentId, state, request, allowed);
    const signal = { suspend: suspendSignal, resume: resumeSignal, terminate: terminateSignal }[request];
    await this.handle(agentId).signal(signal, reason ?? `${request} requested by client`);
  }

  /** Gives a Ready persistent agent a task; throws TaskRejectedError if it cannot take one. */
  async assignTask(agentId: string, task: TaskInput): Promise<TaskAssignment> {
    compileTask(task);
    try {
      return await this.handle(agentId).executeUpdate(assignTaskUpdate, { args: [task] });
    } catch (error) {
      if (error instanceof WorkflowUpdateFailedError) {
        throw new TaskRejectedError(agentId, error.cause?.message ?? error.message);
      }
      throw this.notFound(agentId, error);
    }
  }

  /** Waits until the persistent agent has finished task `seq` and returns its result. */
  async waitForTask(agentId: string, seq: number, timeoutMs = 60_000): Promise<TaskResult> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
      const status = await this.status(agentId);
      const result = status.results.find((r) => r.seq === seq);
      if (result) return result;
      if (status.state === 'Terminated')
        throw new AgentFailedError(agentId, `it ended before task ${seq} finished`);
      if (Date.now() > deadline) throw new AgentWaitTimeoutError(agentId, `to finish task ${seq}`, timeoutMs);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** Waits for the agent's workflow to end and returns its result. */
  async result(agentId: string): Promise<AgentResult> {
    try {
      return (await this.handle(agentId).result()) as AgentResult;
    } catch (error) {
      if (error instanceof WorkflowFailedError) {
        throw new AgentFailedError(agentId, error.cause?.message ?? error.message, { cause: error });
      }
      throw this.notFound(agentId, error);
    }
  }

  /** Lists agents from Temporal visibility (search attributes), newest first. */
  async list(options: ListOptions = {}): Promise<AgentSummary[]> {
    const clauses = [
      options.hosted === false
        ? `WorkflowType = '${AGENT_WORKFLOW_TYPE}'`
        : `WorkflowType IN ('${AGENT_WORKFLOW_TYPE}', '${HOSTED_AGENT_WORKFLOW_TYPE}')`,
    ];
    if (!options.all) clauses.push(`ExecutionStatus = 'Running'`);
    if (options.state) clauses.push(`ArsState = '${options.state}'`);
    if (options.name) clauses.push(`ArsAgentName = '${options.name.replace(/'/g, '')}'`);
    const agents: AgentSummary[] = [];
    for await (const execution of this.temporal.workflow.list({ query: clauses.join(' AND ') })) {
      const attributes = execution.typedSearchAttributes;
      agents.push({
        agentId: execution.workflowId.replace(/^(agent|hosted)-/, ''),
        workflowId: execution.workflowId,
        name: attributes.get(SEARCH_ATTRIBUTES.agentName) ?? '',
        state: attributes.get(SEARCH_ATTRIBUTES.state) ?? '',
        tier: attributes.get(SEARCH_ATTRIBUTES.tier) ?? '',
        mode: attributes.get(SEARCH_ATTRIBUTES.mode) ?? '',
        host: attributes.get(SEARCH_ATTRIBUTES.host) ?? '',
        workflowStatus: execution.status.name,
        startTime: execution.startTime,
      });
      if (agents.length >= (options.limit ?? 100)) break;
    }
    return agents;
  }

  /**
   * How many workers poll the control task queue (workflow tasks) right now; 0 means agents will
   * wait until a worker (`ars dev`, `ars worker`) starts.
   */
  async controlPollers(taskQueue = this.settings.controlTaskQueue): Promise<number> {
    const response = await this.temporal.workflowService.describeTaskQueue({
      namespace: this.settings.namespace,
      taskQueue: { name: taskQueue },
      taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
    });
    return response.pollers?.length ?? 0;
  }

  /** The Temporal Web UI page of the agent's workflow. */
  /** The agent's workflow in the Temporal UI (SDK agent ids, `<type>/<key>`, have a hosted record). */
  uiUrl(agentId: string): string {
    const workflowId = agentId.includes('/') ? hostedAgentWorkflowId(agentId) : agentWorkflowId(agentId);
    return workflowUiUrl(this.settings, workflowId);
  }

  private handle(agentId: string): WorkflowHandle {
    return this.temporal.workflow.getHandle(agentWorkflowId(agentId));
  }

  private notFound(agentId: string, error: unknown): unknown {
    return error instanceof WorkflowNotFoundError ? new AgentNotFoundError(agentId) : error;
  }
}

/**
 * Runs a workflow query, and once more if Temporal answers "Failed to query Workflow": a query that
 * reaches the worker while the run it targets is being closed and evicted from the worker's cache is
 * dropped with it (the worker logs "leftover buffered tasks when evicting run"), and the server answers
 * that after its query timeout. Asked again, the worker replays the closed run and answers.
 */
export async function queryTwice<T>(query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (error) {
    if (!(error instanceof ServiceError) || !error.message.includes('Failed to query Workflow')) throw error;
    return query();
  }
}
