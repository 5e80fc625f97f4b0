/**
 * `ars schedule create|ls|describe|pause|unpause|trigger|delete`: the scheduled execution mode on
 * Temporal Schedules (src/schedule). Bad input exits 2 and creates nothing; an unknown name exits 1.
 */
import type { Command } from 'commander';
import type { AgentResult, ArsClient } from '../../client/index.js';
import { ConfigError } from '../../config/index.js';
import {
  DEFAULT_TRIGGER_WAIT_MS,
  OVERLAP_POLICIES,
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  triggerSchedule,
  unpauseSchedule,
  type OverlapPolicy,
  type ScheduleInfo,
} from '../../schedule/index.js';
import { readJsonFile, UsageError, withClient } from '../context.js';

/** What `ars schedule` needs (everything has a default). */
export interface ScheduleCliDeps {
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}

interface CreateFlags {
  agent: string;
  cron: string[];
  every?: string;
  timezone?: string;
  paused?: boolean;
  note?: string;
  overlap?: string;
  host?: string;
  policyCheck: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];
const iso = (d: Date | undefined): string => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');
const json = (value: unknown): string => JSON.stringify(value, null, 2);

function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

function details(s: ScheduleInfo): string[] {
  return [
    `schedule ${s.name} (${s.scheduleId}): ${s.paused ? 'paused' : 'active'}${s.note ? ` — ${s.note}` : ''}`,
    `  agent: ${s.agent}${s.agentId ? ` (runs are agent-${s.agentId}-<time>)` : ''}`,
    `  times: ${s.spec}${s.timezone === 'UTC' || s.spec.includes(`(${s.timezone})`) ? '' : ` (${s.timezone})`}; overlap: ${s.overlap}`,
    `  next runs: ${s.paused ? '- (paused)' : s.nextRuns.length > 0 ? s.nextRuns.slice(0, 3).map(iso).join(', ') : '-'}`,
    `  runs taken: ${s.runsTaken}; running: ${s.running.length > 0 ? s.running.join(', ') : '-'}`,
    ...s.recentRuns.map((r) => `  run at ${iso(r.takenAt)}: ${r.workflowId}`),
    `  ui: ${s.ui}`,
  ];
}

function runLines(result: AgentResult): string[] {
  const task = result.result;
  const lines = [`agent ${result.agentId} (${result.name}) ${result.state}: ${result.reason}`];
  if (task) {
    lines.push(`task ${task.seq}: ${task.outcome}, exit code ${task.exitCode}, ${task.durationMs} ms`);
    if (task.stdout) lines.push(`stdout:\n${task.stdout.replace(/\n$/, '').replace(/^/gm, '  | ')}`);
    if (task.stderr) lines.push(`stderr:\n${task.stderr.replace(/\n$/, '').replace(/^/gm, '  | ')}`);
  }
  return lines;
}

function overlapFlag(value: string | undefined): OverlapPolicy | undefined {
  if (value === undefined) return undefined;
  if (!(OVERLAP_POLICIES as readonly string[]).includes(value))
    throw new UsageError(`--overlap '${value}' is unknown; use one of ${OVERLAP_POLICIES.join(', ')}`);
  return value as OverlapPolicy;
}

export function registerScheduleCommands(program: Command, deps: ScheduleCliDeps = {}): void {
  const out = deps.out ?? ((t: string) => void process.stdout.write(`${t}\n`));
  const err = deps.err ?? ((t: string) => void process.stderr.write(`${t}\n`));
  const warnIfNoWorker = async (ars: ArsClient): Promise<void> => {
    if ((await ars.controlPollers()) === 0)
      err(
        `warning: no worker polls task queue '${ars.settings.controlTaskQueue}'; runs wait until one does (start 'ars dev' or 'ars worker')`,
      );
  };

  const schedule = program
    .command('schedule')
    .description(
      'scheduled agents on Temporal Schedules: create, ls, describe, pause, unpause, trigger, delete',
    );

  schedule
    .command('create <name>')
    .description('create a schedule that starts the agent of a JSON AgentConfig file at each due time')
    .requiredOption('--agent <agent-config>', 'the agent config file (as for ars run); each run starts it')
    .option('--cron <expr>', 'five-field cron expression, e.g. "0 2 * * *" (repeatable)', collect, [])
    .option('--every <duration>', 'fixed interval instead of cron: 30s, 5m, 1h, 1h30m, 1d')
    .option('--timezone <zone>', 'IANA time zone of the cron expressions (default UTC)')
    .option('--paused', 'create it paused (trigger still runs it)')
    .option('--note <text>', 'a note kept with its state')
    .option(
      '--overlap <policy>',
      `when a run is due while one still runs: ${OVERLAP_POLICIES.join(', ')} (default skip)`,
    )
    .option('--host <id>', 'host whose worker runs the sandboxes (default: this host)')
    .option('--no-policy-check', 'skip the policy check before creating (every run is still checked)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: CreateFlags) => {
      const agent = await readJsonFile(opts.agent);
      await withClient(async (ars) => {
        const created = await createSchedule(ars, {
          name,
          agent,
          ...(opts.cron.length > 0 ? { cron: opts.cron.length === 1 ? opts.cron[0] : opts.cron } : {}),
          ...(opts.every !== undefined ? { every: opts.every } : {}),
          ...(opts.timezone !== undefined ? { timezone: opts.timezone } : {}),
          ...(opts.paused ? { paused: true } : {}),
          ...(opts.note !== undefined ? { note: opts.note } : {}),
          ...(opts.overlap !== undefined ? { overlap: opts.overlap as OverlapPolicy } : {}),
          ...(opts.host !== undefined ? { hostId: opts.host } : {}),
          policyCheck: opts.policyCheck,
        }).catch((error: unknown) => {
          // Say where the agent.* fields come from.
          if (error instanceof ConfigError && error.problems.some((p) => p.path.startsWith('agent')))
            throw new ConfigError(`${error.subject} (agent config ${opts.agent})`, error.problems);
          throw error;
        });
        if (opts.json) out(json(created));
        else {
          out(
            `schedule ${created.name} created (${created.spec}, agent ${created.agent}${created.paused ? ', paused' : ''}): ${created.ui}`,
          );
          out(`  next run: ${created.paused ? '- (paused)' : iso(created.nextRuns[0])}`);
        }
        await warnIfNoWorker(ars);
      });
    });

  schedule
    .command('ls')
    .alias('list')
    .description('list the ARS schedules (other Temporal Schedules are not shown)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await withClient(async (ars) => {
        const all = await listSchedules(ars);
        if (opts.json) return out(json(all));
        if (all.length === 0) return out('no schedules');
        const rows = [['NAME', 'AGENT', 'TIMES', 'STATE', 'NEXT RUN', 'LAST RUN', 'RUNS']];
        for (const s of all)
          rows.push([
            s.name,
            s.agent,
            s.spec,
            s.paused ? 'paused' : 'active',
            s.paused ? '-' : iso(s.nextRuns[0]),
            s.lastRun ? `${iso(s.lastRun.takenAt)} ${s.lastRun.workflowId}` : '-',
            String(s.runsTaken),
          ]);
        for (const line of table(rows)) out(line);
      });
    });

  schedule
    .command('describe <name>')
    .alias('show')
    .description("a schedule's times, state, next runs and recent runs")
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withClient(async (ars) => {
        const s = await describeSchedule(ars, name);
        for (const line of opts.json ? [json(s)] : details(s)) out(line);
      });
    });

  for (const [verb, run, description] of [
    ['pause', pauseSchedule, 'pause a schedule: no run starts until unpause'],
    ['unpause', unpauseSchedule, 'unpause a schedule: runs start again at their times'],
  ] as const) {
    schedule
      .command(`${verb} <name>`)
      .description(description)
      .option('--note <text>', 'why (kept with the state)')
      .option('--json', 'print JSON')
      .action(async (name: string, opts: { note?: string; json?: boolean }) => {
        await withClient(async (ars) => {
          const s = await run(ars, name, opts.note);
          if (opts.json) out(json(s));
          else out(`schedule ${s.name} ${s.paused ? 'paused' : 'active'}${s.note ? `: ${s.note}` : ''}`);
        });
      });
  }
  // `resume` reads naturally next to `ars resume <agent>`.
  schedule.commands.find((c) => c.name() === 'unpause')?.alias('resume');

  schedule
    .command('trigger <name>')
    .description('start a run now (even when paused) and print its workflow id')
    .option(
      '--overlap <policy>',
      `overlap policy for this run: ${OVERLAP_POLICIES.join(', ')} (default: the schedule's own)`,
    )
    .option('--wait', "wait for the run to end and print the agent's result")
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { overlap?: string; wait?: boolean; json?: boolean }) => {
      const overlap = overlapFlag(opts.overlap);
      await withClient(async (ars) => {
        const run = await triggerSchedule(ars, name, overlap !== undefined ? { overlap } : {});
        if (run.workflowId === undefined) {
          err(
            `warning: schedule ${name} was triggered, but no new run appeared within ${DEFAULT_TRIGGER_WAIT_MS / 1000} s (the overlap policy skips a run while one still runs, unless --overlap allow-all; see 'ars schedule describe ${name}')`,
          );
          if (opts.json) out(json({ ...run, started: false }));
          process.exitCode = 1;
          return;
        }
        await warnIfNoWorker(ars);
        const agentId = run.workflowId.replace(/^agent-/, '');
        if (!opts.wait) {
          if (opts.json) out(json({ ...run, agentId, started: true }));
          else out(`schedule ${name} triggered: run ${run.workflowId} started: ${run.ui}`);
          return;
        }
        if (!opts.json) out(`schedule ${name} triggered: run ${run.workflowId} started: ${run.ui}`);
        const result = await ars.result(agentId);
        if (opts.json) out(json({ ...run, agentId, started: true, result }));
        else for (const line of runLines(result)) out(line);
        if (result.result && result.result.outcome !== 'succeeded') process.exitCode = 1;
      });
    });

  schedule
    .command('delete <name>')
    .alias('rm')
    .description('delete a schedule (runs it already started go on)')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await withClient(async (ars) => {
        await deleteSchedule(ars, name);
        if (opts.json) out(json({ name, deleted: true }));
        else out(`schedule ${name} deleted`);
      });
    });
}
