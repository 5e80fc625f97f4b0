import type { Command } from 'commander';
import { createLogger } from '../../util/logger.js';
import { installQuietRuntime, runWorkers, type WorkerRole } from '../../../workers/index.js';
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
    .action(async (opts: { role: string }) => {
      const roles = ROLES[opts.role];
      if (!roles) throw new UsageError(`--role '${opts.role}' is unknown; use control, host or standalone`);
      await run(roles);
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

async function run(roles: WorkerRole[]): Promise<void> {
  installQuietRuntime();
  const logger = createLogger({ name: 'ars-worker' });
  const config = settings();
  await runWorkers({
    settings: config,
    logger,
    roles,
    onReady: (queues) => {
      logger.info({ ...queues, hostId: config.hostId }, 'workers ready');
      console.error(`ars: ${roles.join(' + ')} worker(s) running for host ${config.hostId}; Ctrl-C to stop`);
    },
  });
}
