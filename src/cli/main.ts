#!/usr/bin/env node
/**
 * The `ars` command line. Each area registers its own commands; errors are printed once, here.
 */
import { Command } from 'commander';
import { dirname } from 'node:path';
import { registerAgentCommands } from './commands/agents.js';
import { registerApplyCommands } from './commands/apply.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDlqCommands } from './commands/dlq.js';
import { registerDslCommands } from './commands/dsl.js';
import { registerMessageCommands } from './commands/messages.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerScheduleCommands } from './commands/schedule.js';
import { registerServiceCommands } from './commands/services.js';
import { registerWorkerCommands } from './commands/workers.js';
import { reportError, settings } from './context.js';

const program = new Command()
  .name('ars')
  .description('ARS — the Agent Runtime System: durable, sandboxed, policy-governed, audited agents')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(`error: ${text.replace(/^error: /, '')}`) })
  .exitOverride();

registerServiceCommands(program);
registerAgentCommands(program);
registerWorkerCommands(program);
registerDemoCommand(program);
registerDlqCommands(program, {
  get redisUrl() {
    return settings().redisUrl;
  },
  get busPrefix() {
    return settings().busPrefix;
  },
});
registerPolicyCommands(program);
registerAuditCommands(program, {
  get redisUrl() {
    return settings().redisUrl;
  },
  get cwd() {
    return dirname(settings().stateDir);
  },
});
registerDslCommands(program);
registerApplyCommands(program);
registerMessageCommands(program);
registerScheduleCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // commander's own errors (unknown command, missing argument) have already been printed.
  if (
    error instanceof Error &&
    'exitCode' in error &&
    typeof error.exitCode === 'number' &&
    'code' in error &&
    String(error.code).startsWith('commander.')
  ) {
    process.exitCode = error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
  } else {
    reportError(error);
  }
}
