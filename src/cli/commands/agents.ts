import type { Command } from 'commander';
import type { AgentResult } from '../../client/index.js';
import { AGENT_STATES, type AgentState } from '../../lifecycle/states.js';
import { printJson, readJsonFile, UsageError, withClient } from '../context.js';

function printResult(result: AgentResult): void {
  const task = result.result;
  console.log(`agent ${result.agentId} (${result.name}) ${result.state}: ${result.reason}`);
  if (task) {
    console.log(`task ${task.seq}: ${task.outcome}, exit code ${task.exitCode}, ${task.durationMs} ms`);
    if (task.stdout) process.stdout.write(indent('stdout', task.stdout));
    if (task.stderr) process.stdout.write(indent('stderr', task.stderr));
  }
}

function indent(label: string, text: string): string {
  return `${label}:\n${text.replace(/^/gm, '  | ').replace(/\n? {2}\| $/, '')}\n`;
}

/** Agent commands: run, ps, inspect, assign, result, suspend, resume, terminate. */
export function registerAgentCommands(program: Command): void {
  program
    .command('run <agent-config>')
    .description('create an agent from a JSON AgentConfig file and start it')
    .option('--wait', 'wait for the agent to finish and print its result')
    .option('--host <id>', 'host whose worker runs the sandbox (default: this host)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { wait?: boolean; host?: string; json?: boolean }) => {
      const input = await readJsonFile(file);
      await withClient(async (ars) => {
        const config = await ars.createAgent(input, opts.host ? { hostId: opts.host } : {});
        if (!opts.json) console.log(`agent ${config.id} (${config.name}) started: ${ars.uiUrl(config.id)}`);
        if ((await ars.controlPollers()) === 0) {
          console.error(
            `warning: no worker polls task queue '${ars.settings.controlTaskQueue}'; the agent waits until one does (start 'ars dev' or 'ars worker')`,
          );
        }
        if (!opts.wait) {
          if (opts.json) printJson({ agentId: config.id, ui: ars.uiUrl(config.id) });
          return;
        }
        const result = await ars.result(config.id);
        if (opts.json) printJson(result);
        else printResult(result);
        if (result.result && result.result.outcome !== 'succeeded') process.exitCode = 1;
      });
    });

  program
    .command('ps')
    .description('list agents (running ones unless --all)')
    .option('--all', 'include agents that have ended')
    .option('--state <state>', `only agents in this state (${AGENT_STATES.join(', ')})`)
    .option('--name <name>', 'only agents with this name')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; state?: string; name?: string; limit: string; json?: boolean }) => {
      if (opts.state && !AGENT_STATES.includes(opts.state as AgentState)) {
        throw new UsageError(`--state '${opts.state}' is unknown; use one of ${AGENT_STATES.join(', ')}`);
      }
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new UsageError(`--limit must be a positive whole number, not '${opts.limit}'`);
      await withClient(async (ars) => {
        const agents = await ars.list({
          all: opts.all ?? false,
          limit,
          ...(opts.state ? { state: opts.state as AgentState } : {}),
          ...(opts.name ? { name: opts.name } : {}),
        });
        if (opts.json) return printJson(agents);
        if (agents.length === 0) return console.log('no agents');
        const rows = [['AGENT', 'NAME', 'STATE', 'MODE', 'TIER', 'HOST', 'STARTED']];
        for (const a of agents)
          rows.push([a.agentId, a.name, a.state, a.mode, a.tier, a.host, a.startTime.toISOString()]);
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
      });
    });

  program
    .command('inspect <id>')
    .description(
      "print an agent's state, history and results as JSON (an SDK agent id `<type>/<key>`: its hosted record)",
    )
    .action(async (id: string) => {
      await withClient(async (ars) => {
        const status = id.includes('/') ? await ars.hostedStatus(id) : await ars.status(id);
        printJson({ ...status, ui: ars.uiUrl(id) });
      });
    });

  program
    .command('assign <id> <command...>')
    .description('give a Ready persistent agent a task (put the command after --)')
    .option('--timeout <ms>', "the task's time limit in milliseconds")
    .option('--wait', 'wait for the task to finish and print its result')
    .action(async (id: string, command: string[], opts: { timeout?: string; wait?: boolean }) => {
      const timeoutMs = opts.timeout === undefined ? undefined : Number(opts.timeout);
      if (timeoutMs !== undefined && !Number.isInteger(timeoutMs))
        throw new UsageError(`--timeout must be milliseconds, not '${opts.timeout}'`);
      await withClient(async (ars) => {
        const { taskId, seq } = await ars.assignTask(id, { command, ...(timeoutMs ? { timeoutMs } : {}) });
        console.log(`task ${taskId} assigned`);
        if (!opts.wait) return;
        const result = await ars.waitForTask(id, seq, (timeoutMs ?? 3_600_000) + 60_000);
        console.log(`task ${seq}: ${result.outcome}, exit code ${result.exitCode}, ${result.durationMs} ms`);
        if (result.stdout) process.stdout.write(indent('stdout', result.stdout));
        if (result.stderr) process.stdout.write(indent('stderr', result.stderr));
        if (result.outcome !== 'succeeded') process.exitCode = 1;
      });
    });

  program
    .command('result <id>')
    .description('wait for an agent to end and print its result')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }) => {
      await withClient(async (ars) => {
        const result = await ars.result(id);
        if (opts.json) printJson(result);
        else printResult(result);
      });
    });

  for (const [name, description] of [
    ['suspend', 'pause a Running agent (its sandbox is frozen)'],
    ['resume', 'resume a Suspended agent'],
    ['terminate', 'stop an agent for good and destroy its sandbox'],
  ] as const) {
    program
      .command(`${name} <id>`)
      .description(description)
      .option('--reason <text>', 'why (kept in the agent history)')
      .action(async (id: string, opts: { reason?: string }) => {
        await withClient(async (ars) => {
          await ars[name](id, opts.reason);
          console.log(`${name} sent to ${id}`);
        });
      });
  }
}
