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

/** `ars worker --role control|host|standalone` and `ars dev` (services + standalone workers). */
export function registerWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description('run ARS workers in this process until interrupted')
    .option(
      '--role <role>',
      'control (agent workflows), host (sandboxes on this machine) or standalone (both)',
      'standalone',
    )
    .option(
      '--agents <modules...>',
      'SDK agent modules the host gateway hosts: compiled .js paths, `path#type` for one type',
    )
    .option('--agent-tier <tier>', `tier of those agents: ${GATEWAY_TIERS.join(', ')}`, 'none')
    .option('--idle-timeout <ms>', 'hibernate agent instances idle this long (0 = never)', '0')
    .action(async (opts: { role: string; agents?: string[]; agentTier: string; idleTimeout: string }) => {
      const roles = ROLES[opts.role];
      if (!roles) throw new UsageError(`--role '${opts.role}' is unknown; use control, host or standalone`);
      const tier = GATEWAY_TIERS.find((t) => t === opts.agentTier);
      if (!tier)
        throw new UsageError(`--agent-tier '${opts.agentTier}' is unknown; use ${GATEWAY_TIERS.join(', ')}`);
      const idleTimeoutMs = Number(opts.idleTimeout);
      if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs < 0)
        throw new UsageError(
          `--idle-timeout '${opts.idleTimeout}' must be a whole number of milliseconds (0 = never)`,
        );
      if (opts.agents?.length && !roles.includes('host'))
        throw new UsageError('--agents needs a host worker: use --role host or standalone');
      await run(roles, opts.agents?.length ? { agents: opts.agents, tier, idleTimeoutMs } : undefined);
    });

  program
    .command('dev')
    .description('the standalone runtime: start the services, then control and host workers in this process')
    .action(async () => {
      const code = await runServicesScript(['up']);
      if (code !== 0) {
        process.exitCode = code;
        return;
      }
      await run(ROLES.standalone!);
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
      logger.info({ ...info, hostId: config.hostId }, 'workers ready');
      const agents = info.gatewayTypes ? `; gateway hosts agent types ${info.gatewayTypes.join(', ')}` : '';
      console.error(
        `ars: ${roles.join(' + ')} worker(s) running for host ${config.hostId}${agents}; Ctrl-C to stop`,
      );
    },
  });
}
