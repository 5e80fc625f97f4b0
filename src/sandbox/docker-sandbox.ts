import type Docker from 'dockerode';
import type { SecurityTier } from '../config/index.js';
import type { Logger } from '../util/logger.js';
import { containerCreateOptions, LABELS, TIER_RUNTIME, type SandboxSpec } from './container-spec.js';
import { SandboxImageMissingError, SandboxLostError, SandboxUnavailableError } from './errors.js';
import { demuxDockerLogs } from './logs.js';

/** How one task in a sandbox ended. */
export interface SandboxRunResult {
  readonly exitCode: number;
  /** The wall-clock limit was exceeded and the container was killed. */
  readonly timedOut: boolean;
  /** The kernel killed the agent for exceeding its memory limit. */
  readonly oomKilled: boolean;
  /** The container was destroyed while it ran (e.g. the agent was terminated). */
  readonly destroyed: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** Output beyond the limit was dropped. */
  readonly truncated: boolean;
  /** Running time, excluding time spent paused. */
  readonly durationMs: number;
  /** When the container's process started (epoch ms; 0 if it never did). */
  readonly startedAt: number;
}

export interface RunOptions {
  /** Wall-clock limit, excluding time paused. */
  readonly timeoutMs: number;
  /** Paused time already accounted by an earlier attempt (activity retries resume from it). */
  readonly pausedMs?: number;
  /** Called about every `pollMs` while the container runs (activities heartbeat from here). */
  readonly onTick?: (progress: { pausedMs: number }) => void;
  /** Aborting kills the container. */
  readonly signal?: AbortSignal;
  /** @default 500 */
  readonly pollMs?: number;
}

export interface DockerSandboxOptions {
  readonly docker: Docker;
  readonly logger: Logger;
  /** Bytes kept of each of stdout and stderr. @default 1_048_576 */
  readonly outputLimitBytes?: number;
  /** How long a successful `ensureReady(tier, image)` is trusted before it is checked again. @default 60_000 */
  readonly readyCacheMs?: number;
}

export const DEFAULT_OUTPUT_LIMIT_BYTES = 1_048_576;
/** See DockerSandboxOptions.readyCacheMs. @default 60_000 */
export const DEFAULT_READY_CACHE_MS = 60_000;

const statusOf = (error: unknown): number | undefined =>
  typeof error === 'object' && error !== null && 'statusCode' in error && typeof error.statusCode === 'number'
    ? error.statusCode
    : undefined;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Docker (and gVisor, as a Docker runtime) sandboxes: every operation is idempotent so that
 * Temporal may retry it, and a container is always identified by its deterministic name or id.
 */
export class DockerSandbox {
  private readonly docker: Docker;
  private readonly logger: Logger;
  private readonly outputLimit: number;
  private readonly readyCacheMs: number;
  private runtimes: Promise<Set<string>> | undefined;
  /** Checks of (tier, image) in flight or passed, by `${tier} ${image}`; failures are not kept. */
  private readonly ready = new Map<string, { readonly at: number; readonly check: Promise<void> }>();

  constructor(options: DockerSandboxOptions) {
    this.docker = options.docker;
    this.logger = options.logger;
    this.outputLimit = options.outputLimitBytes ?? DEFAULT_OUTPUT_LIMIT_BYTES;
    this.readyCacheMs = options.readyCacheMs ?? DEFAULT_READY_CACHE_MS;
  }

  /**
   * Checks that `tier` can run here and `image` is present (pulling it if possible). Many agents
   * start with the same tier and image: concurrent calls share one check, and a check that passed
   * is trusted for `readyCacheMs` (a container create that then finds the image gone still fails
   * with SandboxImageMissingError, and forgets it). A failed check is not kept: the next call checks
   * again, so `ars up` or a pulled image fixes the next agent.
   */
  async ensureReady(tier: SecurityTier, image: string): Promise<void> {
    const key = `${tier} ${image}`;
    const now = Date.now();
    const known = this.ready.get(key);
    if (known && now - known.at < this.readyCacheMs) return known.check;
    const check = this.checkReady(tier, image);
    this.ready.set(key, { at: now, check });
    check.catch(() => {
      if (this.ready.get(key)?.check === check) this.ready.delete(key);
    });
    return check;
  }

  private async checkReady(tier: SecurityTier, image: string): Promise<void> {
    const runtime = TIER_RUNTIME[tier];
    if (tier === 'none') {
      throw new SandboxUnavailableError(
        tier,
        "tier 'none' runs trusted handlers in-process and cannot run a command; choose tier docker or gvisor",
      );
    }
    if (!runtime) {
      throw new SandboxUnavailableError(
        tier,
        `tier '${tier}' is not available on this host (no Firecracker runtime is installed); choose docker or gvisor`,
      );
    }
    const runtimes = await this.availableRuntimes();
    if (!runtimes.has(runtime)) {
      throw new SandboxUnavailableError(
        tier,
        `tier '${tier}' needs the Docker runtime '${runtime}', which this Docker engine does not have; run 'ars up' to register it`,
      );
    }
    await this.ensureImage(image);
  }

  private availableRuntimes(): Promise<Set<string>> {
    this.runtimes ??= this.docker.info().then((info: { Runtimes?: Record<string, unknown> }) => {
      return new Set(Object.keys(info.Runtimes ?? {}));
    });
    return this.runtimes;
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    try {
      const stream = await this.docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (error: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      );
    } catch (error) {
      this.logger.warn({ image, err: error }, 'image pull failed');
      throw new SandboxImageMissingError(image);
    }
  }

  /** Creates the container (not started). A second call with the same name returns the same id. */
  async create(spec: SandboxSpec): Promise<string> {
    try {
      const container = await this.docker.createContainer(containerCreateOptions(spec));
      this.logger.debug({ name: spec.name, id: container.id }, 'sandbox created');
      return container.id;
    } catch (error) {
      if (statusOf(error) === 409) {
        const existing = await this.docker.getContainer(spec.name).inspect();
        this.logger.debug({ name: spec.name, id: existing.Id }, 'sandbox already existed');
        return existing.Id;
      }
      if (statusOf(error) === 404) {
        for (const key of this.ready.keys()) if (key.endsWith(` ${spec.image}`)) this.ready.delete(key);
        throw new SandboxImageMissingError(spec.image);
      }
      throw error;
    }
  }

  /**
   * Starts the container if it has not started, waits for it to exit, kills it when it runs past
   * its time limit (time paused does not count) or when `signal` aborts, and returns its output.
   * Calling it again for a container that already ran re-attaches instead of running it twice.
   */
  async run(containerId: string, options: RunOptions): Promise<SandboxRunResult> {
    const container = this.docker.getContainer(containerId);
    const pollMs = options.pollMs ?? 500;
    let info = await this.inspect(containerId);
    if (info.State.Status === 'created') {
      await container.start().catch((error: unknown) => {
        if (statusOf(error) !== 304) throw error;
      });
      info = await this.inspect(containerId);
    }
    const startedAt = Date.parse(info.State.StartedAt);
    let pausedMs = options.pausedMs ?? 0;
    let timedOut = false;
    let destroyed = false;
    let exited = false;
    const waiting = container.wait({ condition: 'not-running' }).then(
      () => {
        exited = true;
      },
      (error: unknown) => {
        exited = true;
        if (statusOf(error) === 404) destroyed = true;
        else throw error;
      },
    );
    let lastTick = Date.now();
    while (!exited) {
      await Promise.race([waiting, sleep(pollMs)]);
      if (exited) break;
      const now = Date.now();
      const state = await this.inspectState(containerId);
      if (!state) {
        destroyed = true;
        break;
      }
      if (state.Paused) pausedMs += now - lastTick;
      lastTick = now;
      options.onTick?.({ pausedMs });
      if (options.signal?.aborted) {
        await this.kill(containerId);
        break;
      }
      if (!state.Paused && now - startedAt - pausedMs > options.timeoutMs) {
        timedOut = true;
        this.logger.info({ containerId, timeoutMs: options.timeoutMs }, 'sandbox timed out; killing it');
        await this.kill(containerId);
        break;
      }
    }
    await waiting.catch(() => undefined);
    return this.collect(containerId, { startedAt, pausedMs, timedOut, destroyed });
  }

  private async collect(
    containerId: string,
    run: { startedAt: number; pausedMs: number; timedOut: boolean; destroyed: boolean },
  ): Promise<SandboxRunResult> {
    const destroyed = {
      ...emptyOutput,
      exitCode: 137,
      timedOut: run.timedOut,
      oomKilled: false,
      destroyed: true,
      durationMs: 0,
      startedAt: run.startedAt,
    };
    const info = run.destroyed
      ? undefined
      : await this.inspect(containerId).catch((error: unknown) => {
          if (error instanceof SandboxLostError) return undefined;
          throw error;
        });
    if (!info) return destroyed;
    let buffer: Buffer;
    try {
      buffer = await this.docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true, follow: false });
    } catch (error) {
      // 404 / 409: the container is gone or being removed (the agent was terminated meanwhile).
      if (statusOf(error) === 404 || statusOf(error) === 409) return destroyed;
      throw error;
    }
    const output = demuxDockerLogs(buffer, this.outputLimit);
    const finishedAt = Date.parse(info.State.FinishedAt);
    return {
      exitCode: info.State.ExitCode,
      timedOut: run.timedOut,
      oomKilled: info.State.OOMKilled,
      destroyed: false,
      ...output,
      durationMs: Math.max(0, finishedAt - run.startedAt - run.pausedMs),
      startedAt: run.startedAt,
    };
  }

  /** Freezes every process of the sandbox. Returns false when the container is not running. */
  async pause(containerId: string): Promise<boolean> {
    const state = await this.inspectState(containerId);
    if (!state) throw new SandboxLostError(containerId, `sandbox ${containerId} no longer exists`);
    if (state.Paused) return true;
    if (!state.Running) return false;
    try {
      await this.docker.getContainer(containerId).pause();
      return true;
    } catch (error) {
      if (statusOf(error) === 409) return (await this.inspectState(containerId))?.Paused ?? false;
      throw error;
    }
  }

  /** Thaws a paused sandbox. Returns false when it is not paused (nothing to do). */
  async unpause(containerId: string): Promise<boolean> {
    const state = await this.inspectState(containerId);
    if (!state) throw new SandboxLostError(containerId, `sandbox ${containerId} no longer exists`);
    if (!state.Paused) return false;
    try {
      await this.docker.getContainer(containerId).unpause();
      return true;
    } catch (error) {
      if (statusOf(error) === 409) return false;
      throw error;
    }
  }

  /** Kills and removes the container; a container that is already gone is fine. */
  async destroy(containerId: string): Promise<void> {
    try {
      await this.docker.getContainer(containerId).remove({ force: true, v: true });
      this.logger.debug({ containerId }, 'sandbox destroyed');
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return;
      // 409: removal already in progress; wait for it to finish.
      if (status === 409) {
        for (let attempt = 0; attempt < 50 && (await this.inspectState(containerId)); attempt++)
          await sleep(100);
        return;
      }
      throw error;
    }
  }

  /** Containers this runtime created on this engine, optionally narrowed by label values. */
  async list(labels: Record<string, string> = {}): Promise<Docker.ContainerInfo[]> {
    const label = [`${LABELS.managed}=true`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
    return this.docker.listContainers({ all: true, filters: { label } });
  }

  /**
   * Removes containers whose agent workflow is no longer open (e.g. a workflow terminated from the
   * Temporal UI, which runs no cleanup). Returns the ids removed.
   */
  async reapOrphans(
    isWorkflowOpen: (workflowId: string) => Promise<boolean>,
    labels: Record<string, string> = {},
  ): Promise<string[]> {
    const removed: string[] = [];
    for (const container of await this.list(labels)) {
      const workflowId = container.Labels[LABELS.workflowId];
      if (workflowId && (await isWorkflowOpen(workflowId))) continue;
      await this.destroy(container.Id);
      removed.push(container.Id);
      this.logger.info({ containerId: container.Id, workflowId }, 'reaped orphaned sandbox');
    }
    return removed;
  }

  private async kill(containerId: string): Promise<void> {
    await this.docker
      .getContainer(containerId)
      .kill({ signal: 'SIGKILL' })
      .catch((error: unknown) => {
        // 404: gone already; 409: not running any more. Both mean it is dead.
        if (statusOf(error) !== 404 && statusOf(error) !== 409) throw error;
      });
  }

  private async inspect(containerId: string): Promise<Docker.ContainerInspectInfo> {
    try {
      return await this.docker.getContainer(containerId).inspect();
    } catch (error) {
      if (statusOf(error) === 404)
        throw new SandboxLostError(containerId, `sandbox ${containerId} no longer exists`);
      throw error;
    }
  }

  private async inspectState(containerId: string): Promise<Docker.ContainerInspectInfo['State'] | undefined> {
    try {
      return (await this.docker.getContainer(containerId).inspect()).State;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }
}

const emptyOutput = { stdout: '', stderr: '', truncated: false } as const;
