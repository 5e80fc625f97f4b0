import { CancelledFailure, Context } from '@temporalio/activity';
import type { ResourceLimits, SecurityTier } from '../src/config/index.js';
import {
  LABELS,
  LEGACY_SANDBOX_GRANTS,
  type DockerSandbox,
  type SandboxGrants,
  type SandboxRunResult,
} from '../src/sandbox/index.js';

export interface SandboxActivityDeps {
  readonly sandbox: DockerSandbox;
  /** The host this worker runs on; stamped on every container it creates. */
  readonly hostId: string;
  /** The Temporal namespace of the workflows that own the containers. */
  readonly namespace: string;
}

export interface PrepareSandboxInput {
  readonly tier: SecurityTier;
  readonly image: string;
}

export interface CreateSandboxInput {
  readonly agentId: string;
  readonly workflowId: string;
  /** Distinguishes executions that reuse an agent id (first run id of the workflow chain). */
  readonly executionKey: string;
  readonly taskSeq: number;
  readonly image: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string | undefined;
  readonly tier: SecurityTier;
  readonly limits: ResourceLimits;
  /**
   * What policy granted for this task (the control activity `grantSandboxCapabilities`). Absent only
   * in inputs of workflows started before grants existed: those sandboxes stay writable, as then.
   */
  readonly grants?: SandboxGrants | undefined;
}

export interface RunSandboxInput {
  readonly containerId: string;
  readonly timeoutMs: number;
}

/** The Docker container name of one task's sandbox: stable across retries of the create. */
export function sandboxName(input: Pick<CreateSandboxInput, 'agentId' | 'executionKey' | 'taskSeq'>): string {
  return `ars-${input.agentId}-${input.executionKey.slice(0, 8)}-${input.taskSeq}`;
}

/**
 * Sandbox activities, run by the host worker that owns the containers (its own task queue). Each is
 * idempotent: a retried create returns the container made by the first attempt, a retried run
 * re-attaches to the running container instead of starting the task again, and destroying a
 * container that is gone succeeds.
 */
export function createSandboxActivities({ sandbox, hostId, namespace }: SandboxActivityDeps) {
  return {
    /** Fails (not retryably) when the tier cannot run here or the image is missing. */
    async prepareSandbox(input: PrepareSandboxInput): Promise<void> {
      await sandbox.ensureReady(input.tier, input.image);
    },

    async createSandbox(input: CreateSandboxInput): Promise<string> {
      return sandbox.create({
        name: sandboxName(input),
        image: input.image,
        command: input.command,
        env: input.env,
        workdir: input.workdir,
        tier: input.tier,
        limits: input.limits,
        grants: input.grants ?? LEGACY_SANDBOX_GRANTS,
        labels: {
          [LABELS.agentId]: input.agentId,
          [LABELS.workflowId]: input.workflowId,
          [LABELS.host]: hostId,
          [LABELS.namespace]: namespace,
          [LABELS.task]: String(input.taskSeq),
        },
      });
    },

    /**
     * Runs the task to its end, heartbeating; a worker crash re-attaches on retry, keeping the
     * paused time already counted. Cancellation kills the container.
     */
    async runSandbox(input: RunSandboxInput): Promise<SandboxRunResult> {
      const context = Context.current();
      const earlier = context.info.heartbeatDetails as { pausedMs?: number } | undefined;
      const result = await sandbox.run(input.containerId, {
        timeoutMs: input.timeoutMs,
        pausedMs: earlier?.pausedMs ?? 0,
        onTick: (progress) => context.heartbeat(progress),
        signal: context.cancellationSignal,
      });
      if (context.cancellationSignal.aborted)
        throw new CancelledFailure('sandbox run cancelled; container killed');
      return result;
    },

    async pauseSandbox(containerId: string): Promise<boolean> {
      return sandbox.pause(containerId);
    },

    async unpauseSandbox(containerId: string): Promise<boolean> {
      return sandbox.unpause(containerId);
    },

    async destroySandbox(containerId: string): Promise<void> {
      await sandbox.destroy(containerId);
    },
  };
}

export type SandboxActivities = ReturnType<typeof createSandboxActivities>;
