import type { Command } from 'commander';
import { createLogger } from '../../util/logger.js';
import {
  GATEWAY_TIERS,
  installQuietRuntime,
  runWorkers,
  type RunWorkersOptions,
  type WorkerRole,
} from '../../../workers/index.js';
import { settings, UsageError } from '../context.js';
import { runServicesScript } from './services.js';

const ROLES: Record<string, WorkerRole[]> = {
  control: ['control'],
  host: ['host'],
  standalone: ['control', 'host'],
};

interface AgentOptions {
  agents?: string[];
  agentTier: string;
  idleTimeout: string;
  /** commander's negatable `--no-agent-workflows`. */
  agentWorkflows: boolean;
}

/** The SDK-agent options of `ars worker` and `ars dev`. */
function withAgentOptions(command: Command): Command {
  return command
    .option(
      '--agents <modules...>',
      'SDK agent modules the host gateway hosts: compiled .js paths, `path#type` for one type',
    )
    .option('--agent-tier <tier>', `tier of those agents: ${GATEWAY_TIERS.join(', ')}`, 'none')
    .option('--idle-timeout <ms>', 'hibernate agent instances idle this long (0 = never)', '0')
    .option(
      '--no-agent-workflows',
      'do not give each hosted agent instance a workflow (`hosted-<agent id>`) to report its lifecycle to',
    );
}

/** Validates the SDK-agent options; undefined when no agent module is given. */
function gatewayOf(opts: AgentOptions, roles: readonly WorkerRole[]): RunWorkersOptions['gateway'] {
  const tier = GATEWAY_TIERS.find((t) => t === opts.agentTier);
  if (!tier)
    throw new UsageError(`--agent-tier '${opts.agentTier}' is unknown; use ${GATEWAY_TIERS.join(', ')}`);
  const idleTimeoutMs = Number(opts.idleTimeout);
  if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 0)
    throw new UsageError(
      `--idle-timeout '${opts.idleTimeout}' must be a whole number of milliseconds (0 = never)`,
    );
  if (!opts.agents?.length) return undefined;
  if (!roles.includes('host'))
    throw new UsageError('--agents needs a host worker: use --role host or standalone');
  return { agents: opts.agents, tier, idleTimeoutMs, workflows: opts.agentWorkflows };
}

/** `ars worker --role control|host|standalone` and `ars dev` (services + standalone workers). */
export function registerWorkerCommands(program: Command): void {
  withAgentOptions(
    program
      .command('worker')
      .description('run ARS workers in this process until interrupted')
      .option(
        '--role <role>',
        'control (agent workflows), host (sandboxes on this machine) or standalone (both)',
        'standalone',
      ),
  ).action(async (opts: AgentOptions & { role: string }) => {
    const roles = ROLES[opts.role];
    if (!roles) throw new UsageError(`--role '${opts.role}' is unknown; use control, host or standalone`);
    await run(roles, gatewayOf(opts, roles));
  });

  withAgentOptions(
    program
      .command('dev')
      .description(
        'the standalone runtime: start the services, then control and host workers in this process',
      ),
  ).action(async (opts: AgentOptions) => {
    const roles = ROLES.standalone!;
    const gateway = gatewayOf(opts, roles);
    const code = await runServicesScript(['up']);
    if (code !== 0) {
      process.exitCode = code;
      return;
    }
    await run(roles, gateway);
  });
}

async function run(roles: WorkerRole[], gateway?: RunWorkersOptions['gateway']): Promise<void> {
  installQuietRuntime();
  const logger = createLogger({ name: 'ars-worker' });
  const config = settings();
  await runWorkers({
    settings: config,
    logger,
    roles,
    ...(gateway ? { gateway } : {}),
    onReady: (info) => {
      logger.info(info, 'workers ready');
      const agents = info.gatewayTypes ? `; gateway hosts agent types ${info.gatewayTypes.join(', ')}` : '';
      console.error(
        `ars: ${roles.join(' + ')} worker(s) running for host ${config.hostId}${agents}; Ctrl-C to stop`,
      );
    },
  });
}
