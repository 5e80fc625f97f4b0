/**
 * The durable lifecycle of one agent. Deterministic workflow code only: policy checks and audit
 * entries are control activities (this workflow's task queue); sandboxes are created, run, paused
 * and destroyed by activities on the agent's host task queue; signals, the status query and the
 * assignTask update steer it; every state change goes through the lifecycle state machine.
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
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { SandboxActivities } from '../activities/sandbox.js';
import type { Task } from '../src/config/agent-config.js';
// The zod-free checker: agent-config.js would load zod into every workflow's context.
import { checkTask } from '../src/config/task-check.js';
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
import { auditBacklog } from './audit-backlog.js';
import {
  OPERATOR_REQUEST_STATES,
  assignTaskUpdate,
  eventSignal,
  policyClearedSignal,
  policyViolationSignal,
  resumeSignal,
  statusQuery,
  suspendSignal,
  terminateSignal,
  type AgentEvent,
  type AgentResult,
  type AgentStatus,
  type AgentWorkflowInput,
  type CarriedState,
  type TaskResult,
} from './definitions.js';

/** How much history a persistent agent keeps in its query (and carries across continue-as-new). */
const KEEP = { history: 100, rejected: 20, results: 10 } as const;
/** Events an event-driven agent queues at most; more are refused (and kept in the query). */
const MAX_QUEUED_EVENTS = 1_000;

type RequestKind = 'suspend' | 'resume' | 'terminate' | 'violation' | 'cleared';
interface Request {
  readonly kind: RequestKind;
  readonly reason: string;
}

const retry: ActivityOptions['retry'] = {
  initialInterval: '200 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  maximumAttempts: 10,
  nonRetryableErrorTypes: NON_RETRYABLE_SANDBOX_ERRORS,
};

/** Control activities retry until they succeed: audit entries must not be lost. */
const controlRetry: ActivityOptions['retry'] = {
  initialInterval: '200 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
};

type RunResult = Awaited<ReturnType<SandboxActivities['runSandbox']>>;

export async function agentWorkflow(input: AgentWorkflowInput): Promise<AgentResult> {
  const { config, placement, carried } = input;
  const info = workflowInfo();
  const executionKey = info.firstExecutionRunId.replace(/-/g, '');
  const eventId = `${info.workflowId}:${info.runId}`;

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
  // Policy and audit run on the control worker (this workflow's own task queue). Audit entries
  // must not be lost, so their activity retries until it succeeds.
  const control = proxyActivities<ControlActivities>({
    startToCloseTimeout: '30 seconds',
    retry: controlRetry,
  });
  // Admission runs as a local activity of the control worker: the policy check and its audit entries
  // cost no activity task round trip through the server (one workflow task fewer per agent).
  const localControl = proxyLocalActivities<ControlActivities>({
    startToCloseTimeout: '30 seconds',
    retry: controlRetry,
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
  let violation: { reasons: string[]; at: number } | undefined;
  let suspendedByPolicy = false;
  let endReason = '';
  let lastExitCode: number | undefined;
  /** Event-driven agents: events not yet run (a fresh run after hibernation starts with the late ones). */
  const events: AgentEvent[] = [...(input.events ?? [])];
  let hibernated = false;

  const keep = <T>(list: T[], max: number) => list.splice(0, Math.max(0, list.length - max));

  // ---- audit: lifecycle events are appended in order, in batches, without blocking the agent.
  const { audit, drained: auditDrained } = auditBacklog(control, {
    agentId: config.id,
    actor: `agent:${config.name}`,
    eventId,
  });

  function transition(to: AgentState, reason: string): void {
    const from = state;
    assertTransition(from, to, reason);
    history.push({ from, to, reason, at: Date.now() });
    keep(history, KEEP.history);
    state = to;
    endReason = reason;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.state, value: to }]);
    setCurrentDetails(details());
    log.info('agent transition', { agentId: config.id, from, to, reason });
    if (to === 'Running' && from === 'Ready') audit('agent.started', { task: current?.seq ?? 0, reason });
    else if (to === 'Running' && from === 'Suspended') audit('agent.resumed', { reason });
    else if (to === 'Suspended') audit('agent.suspended', { reason });
  }

  function details(): string {
    const task = current
      ? `\n\ntask ${current.seq}${current.containerId ? ` in ${current.containerId.slice(0, 12)}` : ''}`
      : '';
    const flagged = violation ? `\n\npolicy violation: ${violation.reasons.join('; ')}` : '';
    return `**${state}** · ${config.mode} · tier ${config.tier} · host ${placement.hostId} · ${tasksCompleted} task(s) done${task}${flagged}`;
  }

  function reject(request: string, message: string): void {
    rejected.push({ request, state, message, at: Date.now() });
    keep(rejected, KEEP.rejected);
    log.warn('agent request rejected', { agentId: config.id, request, state, message });
  }

  function request(kind: 'suspend' | 'resume' | 'terminate', reason: string | undefined): void {
    if (!OPERATOR_REQUEST_STATES[kind].includes(state)) {
      reject(kind, `${kind} does not apply to an agent that is ${state}`);
      return;
    }
    requests.push({ kind, reason: reason ?? `${kind} requested` });
  }

  setHandler(suspendSignal, (reason) => request('suspend', reason));
  setHandler(resumeSignal, (reason) => request('resume', reason));
  setHandler(terminateSignal, (reason) => request('terminate', reason));
  setHandler(policyViolationSignal, (reasons) => {
    if (state === 'Terminated') return;
    const list = reasons.length > 0 ? reasons : ['no policy permits the agent any more'];
    violation = { reasons: list, at: Date.now() };
    audit('security.event', { type: 'policy_violation', severity: 'warning', message: list.join('; ') });
    requests.push({ kind: 'violation', reason: `policy violation: ${list.join('; ')}` });
  });
  setHandler(policyClearedSignal, (reason) => {
    if (!violation) return;
    violation = undefined;
    audit('security.event', {
      type: 'policy_cleared',
      severity: 'info',
      message: reason ?? 'policy cleared',
    });
    requests.push({ kind: 'cleared', reason: reason ?? 'policy cleared' });
  });
  setHandler(eventSignal, (event) => {
    if (config.mode !== 'event-driven') {
      reject('event', `agent ${config.id} is ${config.mode}; only event-driven agents take events`);
      return;
    }
    if (events.length >= MAX_QUEUED_EVENTS) {
      reject(
        'event',
        `${MAX_QUEUED_EVENTS} events are already queued; the event on ${event.topic} was dropped`,
      );
      return;
    }
    events.push(event);
  });
  setHandler(statusQuery, (): AgentStatus => ({
    agentId: config.id,
    config,
    ...(violation ? { violation } : {}),
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
      pending = { task: checkTask(taskInput), taskId, seq };
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
        if (violation) {
          throw new Error(
            `agent ${config.id} violates policy (${violation.reasons.join('; ')}); it takes no tasks until that is cleared`,
          );
        }
        checkTask(taskInput);
      },
    },
  );

  /** Applies one request while a task runs; returns the terminate request if there is one. */
  async function steerRunning(next: Request, containerId: string, seq: number): Promise<Request | undefined> {
    switch (next.kind) {
      case 'terminate':
        return next;
      case 'suspend':
      case 'violation':
        if (state === 'Suspended') {
          if (next.kind === 'violation') suspendedByPolicy = true;
        } else if (!canTransition(state, 'Suspended')) {
          if (next.kind === 'suspend')
            reject('suspend', `suspend does not apply to an agent that is ${state}`);
        } else if (await sandbox.pauseSandbox(containerId)) {
          suspendedByPolicy = next.kind === 'violation';
          transition('Suspended', next.reason);
        } else if (next.kind === 'suspend') {
          reject('suspend', `task ${seq} had already finished`);
        }
        return undefined;
      case 'resume':
      case 'cleared':
        if (next.kind === 'cleared' && !suspendedByPolicy) return undefined;
        if (state !== 'Suspended') {
          if (next.kind === 'resume') reject('resume', `resume does not apply to an agent that is ${state}`);
        } else if (violation) {
          reject(
            'resume',
            `the agent violates policy (${violation.reasons.join('; ')}); it resumes when that is cleared`,
          );
        } else {
          await sandbox.unpauseSandbox(containerId);
          suspendedByPolicy = false;
          transition('Running', next.reason);
        }
        return undefined;
    }
  }

  /** Runs one task in a fresh sandbox and always destroys the sandbox. */
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
      // Policy decides, per task, what the sandbox grants (capability:write → writable scratch space).
      const grants = patched('capability-grants')
        ? await control.grantSandboxCapabilities({ config, hostId: placement.hostId, taskSeq: seq, eventId })
        : undefined;
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
        ...(grants ? { grants: grants.sandbox } : {}),
      });
      current = { taskId, seq, containerId };
      setCurrentDetails(details());
      const id = containerId;
      const runScope = new CancellationScope();
      let finished: RunResult | undefined;
      let failure: unknown;
      const running = runScope
        .run(() =>
          runner.runSandbox({ containerId: id, timeoutMs: task.timeoutMs ?? config.resources.timeoutMs }),
        )
        .then(
          (value) => void (finished = value),
          (error: unknown) => void (failure = error ?? new Error('sandbox run failed')),
        );
      // A violation that arrived before the task started applies now.
      if (violation)
        requests.unshift({ kind: 'violation', reason: `policy violation: ${violation.reasons.join('; ')}` });
      while (!finished && failure === undefined && !terminated) {
        await condition(() => finished !== undefined || failure !== undefined || requests.length > 0);
        const next = requests.shift();
        if (next) terminated = await steerRunning(next, id, seq);
      }
      if (terminated) {
        runScope.cancel();
        await running;
        return { result: taskResult(taskId, seq, task, undefined), terminated: true };
      }
      if (failure !== undefined)
        throw failure instanceof Error ? failure : new Error('sandbox run failed', { cause: failure });
      return { result: taskResult(taskId, seq, task, finished), terminated: false };
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
    lastExitCode = result.exitCode;
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

  /** Applies queued requests while no task runs; true if the agent was terminated. */
  function drainIdleRequests(): boolean {
    for (let next = requests.shift(); next; next = requests.shift()) {
      if (next.kind === 'terminate') {
        transition('Terminated', next.reason);
        return true;
      }
      // A violation while idle blocks new tasks (see the update validator); nothing to pause.
      if (next.kind === 'violation' || next.kind === 'cleared') continue;
      reject(next.kind, `${next.kind} does not apply to an agent that is ${state}`);
    }
    return false;
  }

  async function initialize(): Promise<void> {
    const admitInput = { config, hostId: placement.hostId, eventId };
    // Histories written before admission became a local activity replay with the activity.
    const admission = patched('admit-agent-local-activity')
      ? await localControl.admitAgent(admitInput)
      : await control.admitAgent(admitInput);
    if (!admission.admitted) {
      const { reasons, errors } = admission.decision;
      const why = [...reasons, ...errors].join('; ') || 'no policy permits it (deny by default)';
      transition('Failed', `policy denied ${admission.stage}: ${why}`);
      transition('Terminated', `denied by policy at ${admission.stage}`);
      throw ApplicationFailure.create({
        message: `agent ${config.id} was denied by policy at ${admission.stage}: ${why}`,
        type: 'AgentCreationDenied',
        nonRetryable: true,
        details: [admission.decision],
      });
    }
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
    transition('Ready', 'admitted by policy; sandbox tier and image ready');
  }

  /** Each event runs one task; idle for trigger.idleTimeoutMs → hibernate (the workflow ends). */
  async function eventDriven(): Promise<AgentResult> {
    const trigger = config.trigger ?? { topic: '', idleTimeoutMs: 300_000 };
    if (!carried)
      await control.registerTrigger({
        config,
        hostId: placement.hostId,
        controlTaskQueue: info.taskQueue,
        eventId,
      });
    for (;;) {
      const woke = await condition(
        () =>
          events.length > 0 ||
          requests.length > 0 ||
          tasksThisRun >= config.tasksPerRun ||
          workflowInfo().continueAsNewSuggested,
        trigger.idleTimeoutMs,
      );
      if (drainIdleRequests()) return finish('terminated', results.at(-1));
      const event = events.shift();
      if (event) {
        const seq = ++taskSeq;
        const task = checkTask({ command: config.sandbox.command ?? [], env: eventEnv(event) });
        const { result, terminated } = await runTask(task, `${config.id}-task-${seq}`, seq);
        if (terminated) return finish('terminated while running', result);
        record(result);
        transition('Completed', `event task ${seq} exited with ${result.exitCode} (${result.outcome})`);
        transition('Ready', `waiting for the next event on ${trigger.topic}`);
        continue;
      }
      if (!woke) {
        hibernated = true;
        transition(
          'Terminated',
          `hibernated: no event on ${trigger.topic} for ${trigger.idleTimeoutMs} ms; the next event starts it again`,
        );
        return finish('hibernated', results.at(-1));
      }
      if (tasksThisRun >= config.tasksPerRun || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await auditDrained();
        if (events.length > 0 || requests.length > 0) continue;
        const next: CarriedState = { history, rejected, results, taskSeq, tasksCompleted, runs: runs + 1 };
        return await continueAsNew<typeof agentWorkflow>({ config, placement, carried: next });
      }
    }
  }

  async function lifecycle(): Promise<AgentResult> {
    if (!carried) await initialize();
    if (drainIdleRequests()) return finish('terminated before running');

    if (config.mode === 'event-driven' && patched('event-driven-mode')) return eventDriven();
    if (config.mode !== 'persistent') {
      taskSeq = 1;
      const task: Task = { command: config.sandbox.command ?? [], env: {} };
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
        await auditDrained();
        if (pending || requests.length > 0) continue;
        const next: CarriedState = { history, rejected, results, taskSeq, tasksCompleted, runs: runs + 1 };
        return await continueAsNew<typeof agentWorkflow>({ config, placement, carried: next });
      }
    }
  }

  setCurrentDetails(details());
  let outcome: AgentResult | undefined;
  let failure: unknown;
  try {
    outcome = await lifecycle();
  } catch (error) {
    failure = error;
  }
  if (failure instanceof ContinueAsNew || failure instanceof IllegalTransitionError) {
    // Continue-as-new ends this run only. A broken state machine is a bug: fail the workflow task
    // (Temporal retries it, visibly) rather than apply anything.
    throw failure;
  }
  if (failure !== undefined && !(failure instanceof ApplicationFailure && failure.nonRetryable)) {
    const cancelled = isCancellation(failure);
    if (!cancelled && canTransition(state, 'Failed')) transition('Failed', failureMessage(failure));
    if (canTransition(state, 'Terminated'))
      transition('Terminated', cancelled ? 'workflow cancelled' : 'agent failed');
    if (!cancelled) {
      failure = ApplicationFailure.nonRetryable(
        `agent ${config.id} failed: ${failureMessage(failure)}`,
        'AgentFailed',
      );
    }
  }
  await CancellationScope.nonCancellable(async () => {
    await auditDrained();
    if (state === 'Terminated') {
      await control.afterTermination({
        config,
        reason: endReason,
        ...(lastExitCode === undefined ? {} : { exitCode: lastExitCode }),
        eventId,
      });
      // An event-driven agent ended for good (not hibernated) no longer listens for events.
      if (config.mode === 'event-driven' && !hibernated && config.trigger)
        await control.unregisterTrigger({ config });
    }
  });
  // Events that arrived while the agent was going into hibernation start it again at once.
  if (hibernated && events.length > 0 && failure === undefined)
    return await continueAsNew<typeof agentWorkflow>({ config, placement, events: events.splice(0) });
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(failureMessage(failure));
  if (!outcome) throw new Error('agent workflow ended without an outcome');
  return outcome;
}

function taskResult(taskId: string, seq: number, task: Task, run: RunResult | undefined): TaskResult {
  const base = { taskId, seq, command: task.command };
  if (!run || run.destroyed) {
    return {
      ...base,
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
    ...base,
    outcome,
    exitCode: run.exitCode,
    stdout: run.stdout,
    stderr: run.stderr,
    truncated: run.truncated,
    durationMs: run.durationMs,
    startedAt: run.startedAt,
  };
}

/** The environment of an event's task: the event as JSON and its topic, type and sender. */
function eventEnv(event: AgentEvent): Record<string, string> {
  return {
    ARS_EVENT: JSON.stringify(event.payload ?? null),
    ARS_EVENT_TOPIC: event.topic,
    ARS_EVENT_TYPE: event.type,
    ...(event.from ? { ARS_EVENT_FROM: event.from } : {}),
  };
}

function failureMessage(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause;
    return cause instanceof Error && cause.message ? cause.message : error.message;
  }
  return String(error);
}
