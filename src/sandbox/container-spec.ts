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
  /** "true" when the sandbox's scratch space is writable (policy granted `capability:write`). */
  writable: 'ars.grant.write',
} as const;

/** The user agents run as unless the image says otherwise: never root. */
export const SANDBOX_USER = '10001:10001';

/** Docker runtime per tier. Firecracker and the in-process tier are not Docker runtimes. */
export const TIER_RUNTIME: Readonly<Partial<Record<SecurityTier, string>>> = {
  docker: 'runc',
  gvisor: 'runsc',
};

/**
 * What policy grants the agent inside its sandbox, decided by the control side before the sandbox is
 * created (`PolicyEngine.checkSandboxCapabilities`). Network is not here: no sandbox has one.
 */
export interface SandboxGrants {
  /**
   * `capability:write` on the scratch space. true: `/tmp` and `/scratch` are writable tmpfs and the
   * IPC namespace is private (a writable `/dev/shm`). false: `/tmp`, `/scratch` and `/dev/mqueue` are
   * read-only tmpfs and the IPC namespace has no `/dev/shm`, so — with the read-only root and the
   * non-root user — the agent can create no file anywhere (writes fail with EROFS / EACCES).
   */
  readonly write: boolean;
}

/** Grants of a sandbox whose creator asked policy nothing (workflows started before grants existed). */
export const LEGACY_SANDBOX_GRANTS: SandboxGrants = Object.freeze({ write: true });

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
  readonly grants: SandboxGrants;
}

const MIB = 1024 * 1024;

/**
 * The hardened container definition of DESIGN.md: read-only root, all capabilities dropped,
 * no-new-privileges, pids limit, memory = memory + swap (no swap), CPU quota, no network, a
 * non-root user, tmpfs scratch space (read-only unless `grants.write`), and an init process that
 * reaps zombies.
 */
export function containerCreateOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
  const runtime = TIER_RUNTIME[spec.tier];
  const writable = spec.grants.write;
  const scratch = `${writable ? 'rw' : 'ro'},nosuid,nodev,noexec,size=${spec.limits.scratchMb}m`;
  const tmpfs: Record<string, string> = { '/tmp': scratch, '/scratch': scratch };
  // No write grant: POSIX message queues would be one more writable namespace; mount it read-only.
  if (!writable) tmpfs['/dev/mqueue'] = 'ro,nosuid,nodev,noexec,size=4k';
  return {
    name: spec.name,
    Image: spec.image,
    Cmd: [...spec.command],
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    ...(spec.workdir ? { WorkingDir: spec.workdir } : {}),
    User: SANDBOX_USER,
    Labels: {
      [LABELS.managed]: 'true',
      [LABELS.tier]: spec.tier,
      [LABELS.writable]: String(writable),
      ...spec.labels,
    },
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
      Tmpfs: tmpfs,
      // 'none': a private IPC namespace without /dev/shm (which would be writable).
      IpcMode: writable ? 'private' : 'none',
      Init: true,
      Privileged: false,
      AutoRemove: false,
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'json-file', Config: { 'max-size': '4m', 'max-file': '1' } },
    },
  };
}
