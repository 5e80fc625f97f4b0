/**
 * `ars dsl check|fmt|compile`: work on agent definition files (.symbi / .dsl). `ars apply` is wired
 * by the runtime on top of `compileFile` from src/dsl.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  DslFormatError,
  DslSyntaxError,
  compileFile,
  formatDiagnostic,
  formatSource,
  type CompileProblem,
  type Diagnostic,
} from '../../dsl/index.js';

/** What the dsl commands need from the CLI (nothing yet: they work on files). */
export interface DslCliDeps {
  /** Where output goes. @default process.stdout / process.stderr */
  readonly out?: (text: string) => void;
  readonly err?: (text: string) => void;
}

const problemLine = (p: CompileProblem): string =>
  p.severity === 'warning' ? `${formatDiagnostic(p)} (warning)` : formatDiagnostic(p);

export function registerDslCommands(program: Command, deps: DslCliDeps = {}): void {
  const out = deps.out ?? ((t: string) => void process.stdout.write(`${t}\n`));
  const err = deps.err ?? ((t: string) => void process.stderr.write(`${t}\n`));
  const dsl = program
    .command('dsl')
    .description('agent definition files (.symbi, .dsl): check, format and compile them');

  dsl
    .command('check')
    .description('parse and compile definition files; print every problem as file:line:column')
    .argument('<files...>', 'definition files')
    .option('--schema <file>', 'validate generated Cedar policies against this Cedar schema')
    .option('--json', 'print a JSON report')
    .action(async (files: string[], opts: { schema?: string; json?: boolean }) => {
      const cedarSchema = opts.schema !== undefined ? await readFile(opts.schema, 'utf8') : undefined;
      const reports = [];
      let failed = false;
      for (const file of files) {
        try {
          const r = await compileFile(file, {
            checkOnly: true,
            ...(cedarSchema !== undefined ? { cedarSchema } : {}),
          });
          failed ||= !r.ok;
          reports.push({
            file,
            ok: r.ok,
            problems: r.problems,
            agents: r.agents.length,
            policies: r.policies.length,
            schedules: r.schedules.length,
          });
        } catch (error) {
          failed = true;
          reports.push({
            file,
            ok: false,
            problems: [
              { severity: 'error', file, line: 0, column: 0, offset: 0, message: (error as Error).message },
            ],
          });
        }
      }
      if (opts.json) out(JSON.stringify(reports, null, 2));
      else {
        for (const r of reports) {
          for (const p of r.problems as CompileProblem[]) err(problemLine(p));
          if (r.ok)
            out(`${r.file}: ok (${r.agents} agents, ${r.policies} policies, ${r.schedules} schedules)`);
        }
      }
      if (failed) process.exitCode = 1;
    });

  dsl
    .command('fmt')
    .description(
      'format definition files in place (idempotent); --check only reports files that would change',
    )
    .argument('<files...>', 'definition files')
    .option('--check', 'do not write; exit 1 if a file is not formatted')
    .option('--json', 'print a JSON report')
    .action(async (files: string[], opts: { check?: boolean; json?: boolean }) => {
      const reports: { file: string; changed?: boolean; problems?: Diagnostic[] }[] = [];
      let failed = false;
      for (const file of files) {
        try {
          const source = await readFile(file, 'utf8');
          const { formatted, changed } = formatSource(source, file);
          if (changed && !opts.check) await writeFile(file, formatted);
          if (changed && opts.check) failed = true;
          reports.push({ file, changed });
        } catch (error) {
          if (!(error instanceof DslSyntaxError || error instanceof DslFormatError)) throw error;
          failed = true;
          reports.push({ file, problems: [...error.diagnostics] });
        }
      }
      if (opts.json) out(JSON.stringify(reports, null, 2));
      else {
        for (const r of reports) {
          if (r.problems) for (const d of r.problems) err(formatDiagnostic(d));
          else if (r.changed) out(opts.check ? `${r.file}: not formatted` : `${r.file}: formatted`);
          else out(`${r.file}: unchanged`);
        }
      }
      if (failed) process.exitCode = 1;
    });

  dsl
    .command('compile')
    .description('print what a definition file compiles to: agent configs, Cedar policies, schedules')
    .argument('<file>', 'definition file')
    .option('--image <image>', 'container image bound to every agent')
    .option('--command <json>', 'command bound to every agent, as a JSON array, e.g. \'["node","agent.js"]\'')
    .option('--schema <file>', 'validate generated Cedar policies against this Cedar schema')
    .action(async (file: string, opts: { image?: string; command?: string; schema?: string }) => {
      let command: string[] | undefined;
      if (opts.command !== undefined) {
        try {
          command = JSON.parse(opts.command) as string[];
        } catch {
          command = undefined;
        }
        if (!Array.isArray(command) || !command.every((c) => typeof c === 'string')) {
          err(
            `error: --command '${opts.command}' is not a JSON array of strings; e.g. '["node","agent.js"]'`,
          );
          process.exitCode = 2;
          return;
        }
      }
      const cedarSchema = opts.schema !== undefined ? await readFile(opts.schema, 'utf8') : undefined;
      const r = await compileFile(file, {
        ...(opts.image !== undefined ? { image: opts.image } : {}),
        ...(command ? { command } : {}),
        ...(cedarSchema !== undefined ? { cedarSchema } : {}),
      });
      for (const p of r.problems) err(problemLine(p));
      out(
        JSON.stringify({ ok: r.ok, agents: r.agents, policies: r.policies, schedules: r.schedules }, null, 2),
      );
      if (!r.ok) process.exitCode = 1;
    });
}
