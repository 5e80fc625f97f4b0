import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { projectRoot } from '../context.js';

/** Runs scripts/services.sh with the given arguments, inheriting stdio; resolves to its exit code. */
export function runServicesScript(args: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(projectRoot, 'scripts', 'services.sh'), ...args], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

/** `ars up|down|status`: install (if missing), start, stop and report the services. */
export function registerServiceCommands(program: Command): void {
  program
    .command('up [services...]')
    .description('install (when missing) and start Temporal, Redis, Docker (+ gVisor) and the sandbox image')
    .action(async (services: string[]) => {
      process.exitCode = await runServicesScript(['up', ...services]);
    });
  program
    .command('down')
    .description('stop the services that ars up started')
    .action(async () => {
      process.exitCode = await runServicesScript(['down']);
    });
  program
    .command('status')
    .description('report which services are up')
    .action(async () => {
      process.exitCode = await runServicesScript(['status']);
    });
}
