/**
 * Compiles a whole definition file: agents → AgentConfig, policies → Cedar text with obligations,
 * schedules → ScheduleDefinition. All or nothing: when there is any error, no agent, policy or
 * schedule is returned, so a caller cannot deploy part of a broken file.
 */
import { readFile } from 'node:fs/promises';
import type { AgentConfig } from '../config/index.js';
import type * as A from './ast.js';
import { compileAgent, fileMetadata, type AgentBinding } from './compile-agent.js';
import { ProblemSink, type CompileProblem } from './compile-context.js';
import { compilePolicy, type CompiledPolicy } from './compile-policy.js';
import { compileSchedule, type ScheduleDefinition } from './compile-schedule.js';
import { parseDsl } from './parse.js';

export interface CompileOptions extends AgentBinding {
  /** Name used in problems. @default the path, or '<input>' */
  readonly file?: string;
  /** Cedar schema text; when given, generated policies are validated against it. */
  readonly cedarSchema?: string;
}

export interface CompileResult {
  readonly file: string;
  /** True when there is no error (warnings allowed). */
  readonly ok: boolean;
  readonly agents: AgentConfig[];
  readonly policies: CompiledPolicy[];
  readonly schedules: ScheduleDefinition[];
  /** Syntax errors, compile errors and warnings, in source order. */
  readonly problems: CompileProblem[];
  /** The parsed file (absent on syntax errors), for display. */
  readonly program?: A.Program;
}

/** Compiles a parsed program. */
export function compileProgram(program: A.Program, options: CompileOptions = {}): CompileResult {
  const file = options.file ?? '<input>';
  const sink = new ProblemSink(file);
  const metadata = fileMetadata(program, sink);
  const agents: AgentConfig[] = [];
  const policies: CompiledPolicy[] = [];
  const schedules: ScheduleDefinition[] = [];
  const agentNames = new Set<string>();
  const schema = options.cedarSchema !== undefined ? { schema: options.cedarSchema } : {};

  for (const item of program.items) {
    if (item.kind !== 'Agent') continue;
    if (agentNames.has(item.name.name))
      sink.error(item.name.span, `agent '${item.name.name}' is defined twice; rename one`);
    agentNames.add(item.name.name);
    const config = compileAgent(item, metadata, options, sink);
    if (config) agents.push(config);
    for (const sub of item.items) {
      if (sub.kind !== 'Policy') continue;
      const p = compilePolicy(sub, { agent: item.name.name, ...schema }, sink);
      if (p) policies.push(p);
    }
  }
  for (const item of program.items) {
    if (item.kind === 'Policy') {
      const p = compilePolicy(item, { ...schema }, sink);
      if (p) policies.push(p);
    } else if (item.kind === 'Channel') {
      for (const m of item.members) {
        if (m.kind !== 'Policy') continue;
        const p = compilePolicy(m, { channel: item.name.name, ...schema }, sink);
        if (p) policies.push(p);
      }
    } else if (item.kind === 'Schedule') {
      const s = compileSchedule(item, agentNames, sink);
      if (s) schedules.push(s);
    }
  }
  const ids = new Set<string>();
  for (const p of policies) {
    if (ids.has(p.id))
      sink.error(program.span, `policy id '${p.id}' is used twice; rename one of the policies`);
    ids.add(p.id);
  }
  const problems = [...sink.problems].sort((a, b) => a.offset - b.offset);
  const ok = !sink.hasErrors;
  return ok
    ? { file, ok, agents, policies, schedules, problems, program }
    : { file, ok, agents: [], policies: [], schedules: [], problems, program };
}

/** Parses and compiles source text. */
export function compileSource(source: string, options: CompileOptions = {}): CompileResult {
  const file = options.file ?? '<input>';
  const parsed = parseDsl(source, { file });
  if (!parsed.program) {
    const problems = parsed.diagnostics.map((d) => ({ ...d, severity: 'error' as const }));
    return { file, ok: false, agents: [], policies: [], schedules: [], problems };
  }
  return compileProgram(parsed.program, { ...options, file });
}

/** Reads, parses and compiles a definition file (`.symbi` or `.dsl`). */
export async function compileFile(path: string, options: CompileOptions = {}): Promise<CompileResult> {
  const source = await readFile(path, 'utf8');
  return compileSource(source, { ...options, file: options.file ?? path });
}
