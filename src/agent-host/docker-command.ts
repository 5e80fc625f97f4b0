import { SANDBOX_USER } from '../sandbox/index.js';

export interface DockerAgentCommandInput {
  /** @default 'ars-sandbox:local' */
  readonly image?: string;
  /** Container name (so that a kill can `docker rm -f` it). */
  readonly name: string;
  /** Host directories bind-mounted read-only: host path → container path. */
  readonly mounts: Readonly<Record<string, string>>;
  /** The command inside the container, e.g. ['node', '/app/dist/src/agent-host/main.js', '--module', ...]. */
  readonly command: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** @default 256 */
  readonly memoryMb?: number;
  /** @default 64 */
  readonly pidsLimit?: number;
  /** @default 1 */
  readonly cpus?: number;
  readonly workdir?: string;
  /** A Docker runtime, e.g. 'runsc' for the gVisor tier. @default Docker's (runc) */
  readonly runtime?: string;
}

/**
 * `docker run -i --rm` of an agent host with the hardened defaults of DESIGN.md: read-only root,
 * all capabilities dropped, no-new-privileges, no network, non-root user, pids/memory/CPU limits,
 * a tmpfs scratch, an init process; the handler module comes in through read-only bind mounts.
 */
export function dockerAgentCommand(input: DockerAgentCommandInput): { command: string; args: string[] } {
  const memory = `${input.memoryMb ?? 256}m`;
  const args = [
    'run',
    '-i',
    '--rm',
    '--name',
    input.name,
    '--label',
    'ars.managed=true',
    '--read-only',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--network',
    'none',
    '--user',
    SANDBOX_USER,
    '--pids-limit',
    String(input.pidsLimit ?? 64),
    '--memory',
    memory,
    '--memory-swap',
    memory,
    '--cpus',
    String(input.cpus ?? 1),
    '--tmpfs',
    '/tmp:rw,nosuid,nodev,size=64m',
    '--init',
    '--log-driver',
    'none',
  ];
  for (const [host, container] of Object.entries(input.mounts)) {
    args.push('--mount', `type=bind,source=${host},target=${container},readonly`);
  }
  for (const [key, value] of Object.entries(input.env ?? {})) args.push('--env', `${key}=${value}`);
  if (input.workdir) args.push('--workdir', input.workdir);
  if (input.runtime) args.push('--runtime', input.runtime);
  args.push(input.image ?? 'ars-sandbox:local', ...input.command);
  return { command: 'docker', args };
}
