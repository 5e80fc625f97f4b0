import type { CapabilityInput } from './hooks.js';
import type { PolicyDecision } from './types.js';

/**
 * Entity id of a sandbox's writable scratch space (the tmpfs mounts `/scratch` and `/tmp`) as an
 * `Ars::Resource`: the resource of the `capability:write` question asked before each task.
 */
export const SANDBOX_SCRATCH_RESOURCE_ID = 'sandbox:/scratch';

/**
 * Capabilities the sandbox enforces at the kernel level, decided by policy before the sandbox is
 * created. Every other capability (read, exec, spawn, tool, env, secrets) is advisory: the engine
 * answers `checkCapability`, but nothing in the sandbox depends on it yet.
 */
export const SANDBOX_ENFORCED_CAPABILITIES = ['write'] as const;

/**
 * Network capabilities. No sandbox ever gets a network interface (`NetworkMode: none`), whatever a
 * policy permits, so these are never asked at run time: a permit cannot open the network and a forbid
 * is already in force.
 */
export const NEVER_GRANTED_CAPABILITIES = ['net', 'net:http', 'network_access'] as const;

export interface SandboxCapabilityInput {
  /** The agent's name (its Cedar entity id). */
  readonly agent: string;
  /** The host whose sandbox it is (the resource's `host`). */
  readonly hostId: string;
  /** Size of each scratch tmpfs in MiB (the resource's `size`, in bytes). */
  readonly scratchMb: number;
}

/** What the sandbox of one task may do. */
export interface SandboxCapabilityGrants {
  /** `/scratch` and `/tmp` are writable tmpfs; otherwise they are read-only. */
  readonly write: boolean;
  /** Always false: sandboxes have no network. */
  readonly network: false;
}

export interface SandboxCapabilityOutcome {
  readonly grants: SandboxCapabilityGrants;
  /** The decision behind `grants.write` (reasons = the deciding policy ids). */
  readonly write: PolicyDecision;
}

/**
 * The `capability:write` question on a sandbox's scratch space: `Ars::Resource::"sandbox:/scratch"`
 * with kind "sandbox", name "scratch", path "/scratch", host = the host id, in_project = true (it is
 * the agent's own working area), size = the tmpfs size in bytes, tags ["/scratch", "/tmp", "tmpfs"].
 * The default policy set permits it (`default.sandbox-scratch-write`); a forbid overrides that.
 */
export function sandboxWriteRequest(input: SandboxCapabilityInput): CapabilityInput {
  return {
    agent: input.agent,
    capability: 'write',
    resourceId: SANDBOX_SCRATCH_RESOURCE_ID,
    attributes: {
      kind: 'sandbox',
      name: 'scratch',
      path: '/scratch',
      host: input.hostId,
      in_project: true,
      size: input.scratchMb * 1024 * 1024,
      tags: ['/scratch', '/tmp', 'tmpfs'],
    },
  };
}

/** Turns the write decision into grants. Only an explicit allow grants; any deny or error does not. */
export function sandboxGrantsFrom(write: PolicyDecision): SandboxCapabilityOutcome {
  return {
    grants: { write: write.decision === 'allow' && write.errors.length === 0, network: false },
    write,
  };
}
