import type Docker from 'dockerode';
import type { ResourceLimits, SecurityTier } from '../config/index.js';

/** Every ARS container carries these labels; the reaper and `ars ps` find containers by them. */
export const LABELS = {
  managed: 'ars.managed',
  agentId: 'ars.agent-id',
  workflowId: 'ars.workflow-id',
  host: 'ars.host',
  namespace: 'ars.namespace',
  tier: 'ars.tier',
  task: 'ars.task',
} as const;

/** The user agents run as unless the image says otherwise: never root. */
export const SANDBOX_USER = '10001:10001';

/** Docker runtime per tier. Firecracker and the in-process tier are not Docker runtimes. */
export const TIER_RUNTIME: Readonly<Partial<Record<SecurityTier, string>>> = {
  docker: 'runc',
  gvisor: 'runsc',
};

export interface SandboxSpec {
  /** Docker container name; deterministic so that a retried create finds the first one. */
  readonly name: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly workdir?: string | undefined;
  readonly tier: SecurityTier;
  readonly limits: ResourceLimits;
  readonly labels: Readonly<Record<string, string>>;
}

const MIB = 1024 * 1024;

/**
 * The hardened container definition of DESIGN.md: read-only root, all capabilities dropped,
 * no-new-privileges, pids limit, memory = memory + swap (no swap), CPU quota, no network, a
 * non-root user, tmpfs scratch space, and an init process that reaps zombies.
 */
export function containerCreateOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
  const runtime = TIER_RUNTIME[spec.tier];
  const scratch = `rw,nosuid,nodev,noexec,size=${spec.limits.scratchMb}m`;
  return {
    name: spec.name,
    Image: spec.image,
    Cmd: [...spec.command],
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    ...(spec.workdir ? { WorkingDir: spec.workdir } : {}),
    User: SANDBOX_USER,
    Labels: { [LABELS.managed]: 'true', [LABELS.tier]: spec.tier, ...spec.labels },
    NetworkDisabled: true,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    Tty: false,
    OpenStdin: false,
    StopTimeout: 2,
    HostConfig: {
      ...(runtime && runtime !== 'runc' ? { Runtime: runtime } : {}),
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      PidsLimit: spec.limits.pidsLimit,
      Memory: spec.limits.memoryMb * MIB,
      MemorySwap: spec.limits.memoryMb * MIB,
      NanoCpus: Math.round(spec.limits.cpus * 1e9),
      Tmpfs: { '/tmp': scratch, '/scratch': scratch },
      IpcMode: 'private',
      Init: true,
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '4m', 'max-file': '1' } },
    },
  };
}
