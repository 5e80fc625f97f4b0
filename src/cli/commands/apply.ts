/**
 * `ars apply <file>`: deploys the agents, Cedar policies and schedules of an agent definition file
 * (src/apply) after the compile and policy checks; prints what it deployed.
 */
import type { Command } from 'commander';
import {
  ApplyCompileError,
  ApplyInstallError,
  ApplyPolicyDeniedError,
  ApplyPolicyLoadError,
  applyFile,
  type ApplyResult,
} from '../../apply/index.js';
import { settings as cliSettings, UsageError, withClient } from '../context.js';

/** What `ars apply` needs (everything has a default). */
export interface ApplyCliDeps {
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}

interface ApplyFlags {
  image?: string;
  command?: string;
  host?: string;
  dryRun?: boolean;
  startScheduled?: boolean;
  json?: boolean;
}

function parseCommand(text: string): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(
      `--command must be a JSON array of strings such as '["node","agent.js"]', not ${text}`,
    );
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string')) {
    throw new UsageError(`--command must be a non-empty JSON array of strings such as '["node","agent.js"]'`);
  }
  return value;
}

function human(result: ApplyResult): string[] {
  const lines: string[] = [];
  const verb = result.dryRun ? 'would install' : 'installed';
  for (const w of result.warnings) lines.push(`${w} (warning)`);
  for (const p of result.policyFiles) {
    lines.push(`policy file ${p.path} ${result.dryRun ? '(would write)' : ''}`.trimEnd());
    lines.push(`  policies: ${p.policyIds.join(', ')}`);
    if (p.obligations.length > 0)
      lines.push(
        `  obligations (recorded, not enforced): ${p.obligations.map((o) => `${o.kind} ${o.expression}`).join('; ')}`,
      );
  }
  for (const a of result.agents) {
    if (a.started) lines.push(`agent ${a.id} (${a.name}) started: ${a.ui}`);
    else if (a.schedules.length > 0)
      lines.push(
        `agent ${a.id} (${a.name}) ${result.dryRun ? 'would run' : 'runs'} on schedule ${a.schedules.join(', ')}`,
      );
    else lines.push(`agent ${a.id} (${a.name}) would be started`);
  }
  for (const s of result.schedules) {
    const when = s.cron ? `cron ${s.cron.join(' | ')}` : s.at ? `at ${s.at}` : `every ${s.intervalMs} ms`;
    lines.push(`schedule ${s.id} ${s.action} (${when} ${s.timezone}, agent ${s.agent}): ${s.ui}`);
  }
  lines.push(
    `${result.file}: ${verb} ${result.policyFiles.length} policy file(s), ${result.dryRun ? `${result.agents.filter((a) => a.schedules.length === 0).length} agent(s) to start` : `${result.agents.filter((a) => a.started).length} agent(s) started`}, ${result.schedules.length} schedule(s)`,
  );
  return lines;
}

export function registerApplyCommands(program: Command, deps: ApplyCliDeps = {}): void {
  const out = deps.out ?? ((t: string) => void process.stdout.write(`${t}\n`));
  const err = deps.err ?? ((t: string) => void process.stderr.write(`${t}\n`));
  program
    .command('apply')
    .description(
      'deploy an agent definition file (.symbi/.dsl): its Cedar policies, agents and schedules, after compile and policy checks (nothing is deployed if a check fails)',
    )
    .argument('<file>', 'definition file')
    .option('--image <image>', 'container image for every agent of the file')
    .option('--command <json>', 'program and arguments for every agent, as a JSON array')
    .option('--host <id>', 'host whose worker runs the sandboxes (default: this host)')
    .option('--start-scheduled', 'also start now the agents that a schedule block names')
    .option('--dry-run', 'run every check and print the plan, deploy nothing')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: ApplyFlags) => {
      const input = {
        ...(opts.image !== undefined ? { image: opts.image } : {}),
        ...(opts.command !== undefined ? { command: parseCommand(opts.command) } : {}),
        ...(opts.host !== undefined ? { hostId: opts.host } : {}),
        dryRun: opts.dryRun ?? false,
        startScheduled: opts.startScheduled ?? false,
      };
      let result: ApplyResult;
      try {
        result = opts.dryRun
          ? await applyFile(file, { ...input, settings: cliSettings() })
          : await withClient((client) => applyFile(file, { ...input, client }));
      } catch (error) {
        const refused =
          error instanceof ApplyCompileError ||
          error instanceof ApplyPolicyLoadError ||
          error instanceof ApplyPolicyDeniedError ||
          error instanceof ApplyInstallError;
        if (!refused) throw error;
        if (opts.json) {
          out(
            JSON.stringify(
              {
                ok: false,
                code: error.code,
                message: error.message,
                ...(error instanceof ApplyCompileError ? { problems: error.problems } : {}),
                ...(error instanceof ApplyPolicyDeniedError ? { denied: error.denied } : {}),
                ...(error instanceof ApplyInstallError ? { deployed: error.deployed } : {}),
              },
              null,
              2,
            ),
          );
        } else err(`error: ${error.message}`);
        process.exitCode = 1;
        return;
      }
      if (opts.json)
        out(
          JSON.stringify(
            { ok: true, ...result, agents: result.agents.map(({ config: _c, ...a }) => a) },
            null,
            2,
          ),
        );
      else for (const line of human(result)) out(line);
    });
}
