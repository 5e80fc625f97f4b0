/**
 * The durable lifecycle of one agent. Deterministic workflow code only: sandboxes are created, run,
 * paused and destroyed by activities on the agent's host task queue; signals, the status query and
 * the assignTask update steer it; every state change goes through the lifecycle state machine.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ContinueAsNew,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { SandboxActivities } from '../activities/sandbox.js';
import { compileTask, type Task } from '../src/config/agent-config.js';
import { SEARCH_ATTRIBUTES } from '../src/lifecycle/search-attributes.js';
import {
  canTransition,
  assertTransition,
  IllegalTransitionError,
  type AgentState,
  type RejectedRequest,
  type TransitionRecord,
} from '../src/lifecycle/states.js';
import { NON_RETRYABLE_SANDBOX_ERRORS } from '../src/sandbox/errors.js';
import {
  assignTaskUpdate,
  resumeSignal,
  statusQuery,
  suspendSignal,
  terminateSignal,
  type AgentResult,
  type AgentStatus,
  type AgentWorkflowInput,
  type CarriedState,
  type TaskResult,
} from './definitions.js';

/** How much history a persistent agent keeps in its query (and carries across continue-as-new). */
const KEEP = { history: 100, rejected: 20, results: 10 } as const;

type RequestKind = 'suspend' | 'resume' | 'terminate';
interface Request {
  readonly kind: RequestKind;
  readonly reason: string;
}

/** The states in which a request can ever apply (checked again when it is processed). */
const REQUEST_STATES: Readonly<Record<RequestKind, readonly AgentState[]>> = {
  suspend: ['Running', 'Waiting'],
  resume: ['Suspended'],
  terminate: ['Initializing', 'Ready', 'Running', 'Waiting', 'Suspended', 'Completed'],
};

const retry: ActivityOptions['retry'] = {
  initialInterval: '200 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_SANDBOX_ERRORS,
};

export async function agentWorkflow(input: AgentWorkflowInput): Promise<AgentResult> {
  const { config, placement, carried } = input;
  const info = workflowInfo();
  const executionKey = info.firstExecutionRunId.replace(/-/g, '');

  const sandbox = proxyActivities<SandboxActivities>({
    taskQueue: placement.hostQueue,
    startToCloseTimeout: '2 minutes',
    retry,
  });
  const runner = proxyActivities<SandboxActivities>({
    taskQueue: placement.hostQueue,
    // A suspended task keeps its run activity; an attempt that outlives this re-attaches on retry.
    startToCloseTimeout: config.resources.timeoutMs + 60 * 60_000,
    heartbeatTimeout: '10 seconds',
    retry: { ...retry, maximumAttempts: 50 },
  });

  let state: AgentState = carried ? 'Ready' : 'Initializing';
  const history: TransitionRecord[] = carried?.history ?? [];
  const rejected: RejectedRequest[] = carried?.rejected ?? [];
  const results: TaskResult[] = carried?.results ?? [];
  let taskSeq = carried?.taskSeq ?? 0;
  let tasksCompleted = carried?.tasksCompleted ?? 0;
  const runs = carried?.runs ?? 0;
  let tasksThisRun = 0;
  const requests: Request[] = [];
  let pending: { task: Task; taskId: string; seq: number } | undefined;
  let current: { taskId: string; seq: number; containerId?: string } | undefined;

  const keep = <T>(list: T[], max: number) => list.splice(0, Math.max(0, list.length - max));

  function transition(to: AgentState, reason: string): void {
    assertTransition(state, to, reason);
    history.push({ from: state, to, reason, at: Date.now() });
    keep(history, KEEP.history);
    state = to;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.state, value: to }]);
    setCurrentDetails(details());
    log.info('agent transition', { agentId: config.id, to, reason });
  }

  function details(): string {
    const task = current
      ? `\n\ntask ${current.seq}${current.containerId ? ` in ${current.containerId.slice(0, 12)}` : ''}`
      : '';
    return `**${state}** · ${config.mode} · tier ${config.tier} · host ${placement.hostId} · ${tasksCompleted} task(s) done${task}`;
  }

  function reject(request: string, message: string): void {
    rejected.push({ request, state, message, at: Date.now() });
    keep(rejected, KEEP.rejected);
    log.warn('agent request rejected', { agentId: config.id, request, state, message });
  }

  function request(kind: RequestKind, reason: string | undefined): void {
    if (!REQUEST_STATES[kind].includes(state)) {
      reject(kind, `${kind} does not apply to an agent that is ${state}`);
      return;
    }
    requests.push({ kind, reason: reason ?? `${kind} requested` });
  }

  setHandler(suspendSignal, (reason) => request('suspend', reason));
  setHandler(resumeSignal, (reason) => request('resume', reason));
  setHandler(terminateSignal, (reason) => request('terminate', reason));
  setHandler(statusQuery, (): AgentStatus => ({
    agentId: config.id,
    name: config.name,
    mode: config.mode,
    tier: config.tier,
    host: placement.hostId,
    state,
    ...(current ? { currentTask: { ...current } } : {}),
    history,
    rejected,
    results,
    tasksCompleted,
    runs,
  }));
  setHandler(
    assignTaskUpdate,
    (taskInput) => {
      const seq = ++taskSeq;
      const taskId = `${config.id}-task-${seq}`;
      pending = { task: compileTask(taskInput), taskId, seq };
      return { taskId, seq };
    },
    {
      validator: (taskInput) => {
        if (config.mode !== 'persistent') {
          throw new Error(`agent ${config.id} is ${config.mode}; only persistent agents take assigned tasks`);
        }
        if (state !== 'Ready' || pending) {
          throw new Error(
            `agent ${config.id} is ${pending ? 'about to run a task' : state}; tasks are assigned only to a Ready agent`,
          );
        }
        compileTask(taskInput);
      },
    },
  );

  /** Runs one task in a fresh sandbox; always destroys the sandbox. Returns false if terminated. */
  async function runTask(
    task: Task,
    taskId: string,
    seq: number,
  ): Promise<{ result: TaskResult; terminated: boolean }> {
    current = { taskId, seq };
    transition('Running', `task ${seq} started`);
    let containerId: string | undefined;
    let terminated: Request | undefined;
    try {
      containerId = await sandbox.createSandbox({
        agentId: config.id,
        workflowId: info.workflowId,
        executionKey,
        taskSeq: seq,
        image: placement.image,
        command: task.command,
        env: { ...config.sandbox.env, ...task.env },
        workdir: config.sandbox.workdir,
        tier: config.tier,
        limits: config.resources,
      });
      current = { taskId, seq, containerId };
      setCurrentDetails(details());
      const runScope = new CancellationScope();
      const id = containerId;
      let finished: Awaited<ReturnType<SandboxActivities['runSandbox']>> | undefined;
      let failure: unknown;
      const running = runScope
        .run(() =>
          runner.runSandbox({ containerId: id, timeoutMs: task.timeoutMs ?? config.resources.timeoutMs }),
        )
        .then(
          (value) => void (finished = value),
          (error: unknown) => void (failure = error ?? new Error('sandbox run failed')),
        );
      while (!finished && !failure && !terminated) {
        await condition(() => finished !== undefined || failure !== undefined || requests.length > 0);
        const next = requests.shift();
        if (!next) continue;
        if (next.kind === 'terminate') {
          terminated = next;
        } else if (next.kind === 'suspend') {
          if (!canTransition(state, 'Suspended'))
            reject('suspend', `suspend does not apply to an agent that is ${state}`);
          else if (await sandbox.pauseSandbox(id)) transition('Suspended', next.reason);
          else reject('suspend', `task ${seq} had already finished`);
        } else if (state !== 'Suspended') {
          reject('resume', `resume does not apply to an agent that is ${state}`);
        } else {
          await sandbox.unpauseSandbox(id);
          transition('Running', next.reason);
        }
      }
      if (terminated) {
        runScope.cancel();
        await running;
        const result = taskResult(taskId, seq, task, undefined);
        return { result, terminated: true };
      }
      if (failure !== undefined)
        throw failure instanceof Error ? failure : new Error('sandbox run failed', { cause: failure });
      const result = taskResult(taskId, seq, task, finished);
      return { result, terminated: false };
    } finally {
      if (containerId) {
        const id = containerId;
        await CancellationScope.nonCancellable(() => sandbox.destroySandbox(id));
      }
      current = undefined;
      if (terminated) transition('Terminated', terminated.reason);
    }
  }

  function record(result: TaskResult): void {
    results.push(result);
    keep(results, KEEP.results);
    tasksCompleted += 1;
    tasksThisRun += 1;
  }

  function finish(reason: string, result?: TaskResult): AgentResult {
    return {
      agentId: config.id,
      name: config.name,
      mode: config.mode,
      state,
      tasksCompleted,
      ...(result ? { result } : {}),
      reason,
    };
  }

  /** Applies queued requests while the agent is not running a task; true if it was terminated. */
  function drainIdleRequests(): boolean {
    for (let next = requests.shift(); next; next = requests.shift()) {
      if (next.kind === 'terminate') {
        transition('Terminated', next.reason);
        return true;
      }
      reject(next.kind, `${next.kind} does not apply to an agent that is ${state}`);
    }
    return false;
  }

  setCurrentDetails(details());
  try {
    if (!carried) {
      try {
        await sandbox.prepareSandbox({ tier: config.tier, image: placement.image });
      } catch (error) {
        if (isCancellation(error)) throw error;
        const message = failureMessage(error);
        transition('Failed', message);
        transition('Terminated', 'initialization failed');
        throw ApplicationFailure.nonRetryable(
          `agent ${config.id} failed to initialize: ${message}`,
          'AgentInitializationFailed',
        );
      }
      transition('Ready', 'sandbox tier and image ready');
    }
    if (drainIdleRequests()) return finish('terminated before running');

    if (config.mode !== 'persistent') {
      const command = config.sandbox.command ?? [];
      const task: Task = { command, env: {} };
      taskSeq = 1;
      const { result, terminated } = await runTask(task, `${config.id}-task-1`, taskSeq);
      if (terminated) return finish('terminated while running', result);
      record(result);
      transition('Completed', `task exited with ${result.exitCode} (${result.outcome})`);
      transition('Terminated', 'ephemeral agent finished its task');
      return finish('completed', result);
    }

    for (;;) {
      await condition(
        () =>
          pending !== undefined ||
          requests.length > 0 ||
          tasksThisRun >= config.tasksPerRun ||
          workflowInfo().continueAsNewSuggested,
      );
      if (drainIdleRequests()) return finish('terminated', results.at(-1));
      if (pending) {
        const { task, taskId, seq } = pending;
        pending = undefined;
        const { result, terminated } = await runTask(task, taskId, seq);
        if (terminated) return finish('terminated while running', result);
        record(result);
        transition('Completed', `task ${seq} exited with ${result.exitCode} (${result.outcome})`);
        transition('Ready', 'waiting for the next task');
        continue;
      }
      if (tasksThisRun >= config.tasksPerRun || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        if (pending || requests.length > 0) continue;
        const next: CarriedState = { history, rejected, results, taskSeq, tasksCompleted, runs: runs + 1 };
        return await continueAsNew<typeof agentWorkflow>({ config, placement, carried: next });
      }
    }
  } catch (error) {
    if (isCancellation(error)) {
      // Cancelled from outside (e.g. the Temporal UI): cleanup ran in runTask's finally.
      if (canTransition(state, 'Terminated')) transition('Terminated', 'workflow cancelled');
      throw error;
    }
    if (error instanceof ContinueAsNew) throw error;
    // A broken state machine is a bug: fail the workflow task (Temporal retries it, visibly).
    if (error instanceof IllegalTransitionError) throw error;
    if (error instanceof ApplicationFailure && error.type === 'AgentInitializationFailed') throw error;
    const message = failureMessage(error);
    if (canTransition(state, 'Failed')) transition('Failed', message);
    if (canTransition(state, 'Terminated')) transition('Terminated', 'agent failed');
    throw ApplicationFailure.nonRetryable(`agent ${config.id} failed: ${message}`, 'AgentFailed');
  }
}

function taskResult(
  taskId: string,
  seq: number,
  task: Task,
  run: Awaited<ReturnType<SandboxActivities['runSandbox']>> | undefined,
): TaskResult {
  if (!run || run.destroyed) {
    return {
      taskId,
      seq,
      command: task.command,
      outcome: 'terminated',
      exitCode: run?.exitCode ?? 137,
      stdout: run?.stdout ?? '',
      stderr: run?.stderr ?? '',
      truncated: run?.truncated ?? false,
      durationMs: run?.durationMs ?? 0,
      startedAt: run?.startedAt ?? 0,
    };
  }
  const outcome = run.timedOut
    ? 'timed_out'
    : run.oomKilled
      ? 'oom_killed'
      : run.exitCode === 0
        ? 'succeeded'
        : 'failed';
  return {
    taskId,
    seq,
    command: task.command,
    outcome,
    exitCode: run.exitCode,
    stdout: run.stdout,
    stderr: run.stderr,
    truncated: run.truncated,
    durationMs: run.durationMs,
    startedAt: run.startedAt,
  };
}

function failureMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause;
    return cause instanceof Error && cause.message ? cause.message : error.message;
  }
  return String(error);
}
