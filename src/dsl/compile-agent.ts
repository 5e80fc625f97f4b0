/**
 * Agent definitions → AgentConfig: metadata, capabilities and with-block attributes are mapped onto
 * the config schema (src/config) and validated by `compileAgentConfig`; config errors are reported at
 * the attribute that caused them.
 */
import { ConfigError, compileAgentConfig, type AgentConfig } from '../config/index.js';
import type * as A from './ast.js';
import type { ProblemSink } from './compile-context.js';
import { constValue, valueAsString } from './compile-values.js';

/** Deploy-time bindings of an agent's behaviour (they win over attributes of the definition). */
export interface AgentBinding {
  /** Container image for every agent in the file. */
  readonly image?: string;
  /** Program and arguments for every agent in the file. */
  readonly command?: readonly string[];
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
  /** Id generator passed to compileAgentConfig (random when absent). */
  readonly generateId?: () => string;
  /**
   * Checking only (`ars dsl check`): the command is bound at deploy time, so a missing one is not
   * reported (a placeholder is used for validation and the configs must not be deployed).
   * @default false
   */
  readonly checkOnly?: boolean;
}

const SANDBOXES: Readonly<Record<string, 'docker' | 'gvisor' | 'firecracker'>> = {
  docker: 'docker',
  tier1: 'docker',
  gvisor: 'gvisor',
  tier2: 'gvisor',
  firecracker: 'firecracker',
  tier3: 'firecracker',
};

/** Metadata of the file's `metadata` blocks as strings. */
export function fileMetadata(program: A.Program, sink: ProblemSink): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of program.items) {
    if (item.kind !== 'Metadata') continue;
    for (const e of item.entries) {
      const v = e.value.kind === 'Array' && e.key.name === 'tags' ? tagList(e.value) : valueAsString(e.value);
      if (v === undefined) sink.error(e.value.span, `metadata '${e.key.name}' must be a constant value`);
      else if (e.key.name in out) sink.error(e.key.span, `metadata '${e.key.name}' is given twice; keep one`);
      else out[e.key.name] = v;
    }
  }
  return out;
}

const tagList = (a: A.ArrayExpr): string | undefined => {
  const values = a.elements.map(valueAsString);
  return values.every((v) => v !== undefined) ? values.join(',') : undefined;
};

const word = (e: A.Expr): string | undefined =>
  e.kind === 'String' ? e.value : e.kind === 'Identifier' ? e.name : undefined;

/** Compiles one agent; returns undefined (with problems reported) when it is not valid. */
export function compileAgent(
  agent: A.AgentDef,
  metadata: Record<string, string>,
  binding: AgentBinding,
  sink: ProblemSink,
): AgentConfig | undefined {
  const before = sink.problems.length;
  const spans = new Map<string, A.Span>([['name', agent.name.span]]);
  const capabilities: string[] = [];
  const resources: Record<string, number> = {};
  const sandbox: { image?: string; command?: string[]; env?: Record<string, string>; workdir?: string } = {};
  const meta: Record<string, string> = { ...metadata };
  const input: Record<string, unknown> = { name: agent.name.name };
  const seen = new Map<string, A.Entry>();

  for (const item of agent.items) {
    if (item.kind === 'Capabilities') {
      spans.set('capabilities', item.span);
      for (const el of item.list.elements) {
        const name = word(el);
        if (name === undefined)
          sink.error(el.span, 'capabilities are names or strings, e.g. ["read", "net:http"]');
        else capabilities.push(name);
      }
    }
    if (item.kind !== 'With') continue;
    for (const attr of item.attributes) {
      const key = attr.key.name;
      const earlier = seen.get(key);
      if (earlier) {
        sink.error(
          attr.key.span,
          `attribute '${key}' is already set at line ${earlier.span.start.line}; keep one`,
        );
        continue;
      }
      seen.set(key, attr);
      applyAttribute(attr, { input, resources, sandbox, meta, spans }, sink);
    }
  }

  if (binding.image !== undefined) sandbox.image = binding.image;
  if (binding.command !== undefined) sandbox.command = [...binding.command];
  if (binding.env) sandbox.env = { ...sandbox.env, ...binding.env };
  if (binding.checkOnly && sandbox.command === undefined) sandbox.command = ['<bound at deploy time>'];
  if (agent.params)
    meta['dsl.params'] = agent.params.map((p) => `${p.name.name}: ${typeText(p.type)}`).join(', ');
  if (agent.returnType) meta['dsl.returns'] = typeText(agent.returnType);

  if (sink.problems.length > before) return undefined;
  try {
    return compileAgentConfig(
      { ...input, resources, capabilities, metadata: meta, sandbox },
      binding.generateId,
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) {
      const span = spans.get(p.path) ?? spans.get(p.path.split('.')[0] ?? '') ?? agent.name.span;
      const hint =
        p.path === 'sandbox.command'
          ? '; add command = ["program", "arg"] to the with-block or bind a command at deploy time'
          : '';
      sink.error(span, `agent '${agent.name.name}': ${p.path || 'config'}: ${p.message}${hint}`);
    }
    return undefined;
  }
}

const typeText = (t: A.TypeRef): string =>
  t.args.length ? `${t.name.name}<${t.args.map(typeText).join(', ')}>` : t.name.name;

interface Target {
  input: Record<string, unknown>;
  resources: Record<string, number>;
  sandbox: { image?: string; command?: string[]; env?: Record<string, string>; workdir?: string };
  meta: Record<string, string>;
  spans: Map<string, A.Span>;
}

function applyAttribute(attr: A.Entry, t: Target, sink: ProblemSink): void {
  const key = attr.key.name;
  const v = attr.value;
  switch (key) {
    case 'sandbox': {
      const name = word(v)?.toLowerCase();
      t.spans.set('tier', attr.span);
      if (name === 'e2b') {
        sink.error(
          v.span,
          "sandbox 'e2b' is a hosted service that ARS does not run; use docker, gvisor or firecracker",
        );
      } else if (name !== undefined && name in SANDBOXES) {
        t.input['tier'] = SANDBOXES[name];
      } else {
        sink.error(
          v.span,
          `sandbox '${word(v) ?? valueAsString(v) ?? '?'}' is unknown; use docker (tier1), gvisor (tier2) or firecracker (tier3)`,
        );
      }
      return;
    }
    case 'timeout': {
      t.spans.set('resources.timeoutMs', attr.span);
      const ms = v.kind === 'Duration' ? v.ms : v.kind === 'Number' ? v.value : NaN;
      if (!Number.isInteger(ms))
        sink.error(
          v.span,
          'timeout is a whole number of milliseconds or a duration such as 30s or 5.minutes',
        );
      else t.resources['timeoutMs'] = ms;
      return;
    }
    case 'max_memory_mb':
    case 'max_cpu_cores': {
      const field = key === 'max_memory_mb' ? 'memoryMb' : 'cpus';
      t.spans.set(`resources.${field}`, attr.span);
      if (v.kind !== 'Number')
        sink.error(v.span, `${key} is a number, e.g. ${key === 'max_memory_mb' ? '512' : '0.5'}`);
      else t.resources[field] = v.value;
      return;
    }
    case 'memory': {
      t.spans.set('mode', attr.span);
      const mode = word(v)?.toLowerCase();
      if (mode === 'ephemeral' || mode === 'persistent') t.input['mode'] = mode;
      else sink.error(v.span, `memory '${valueAsString(v) ?? '?'}' is unknown; use ephemeral or persistent`);
      return;
    }
    case 'security': {
      t.spans.set('risk', attr.span);
      const risk = word(v)?.toLowerCase();
      if (risk === 'low' || risk === 'medium' || risk === 'high') t.input['risk'] = risk;
      else sink.error(v.span, `security '${valueAsString(v) ?? '?'}' is unknown; use low, medium or high`);
      return;
    }
    case 'image':
    case 'workdir': {
      t.spans.set(`sandbox.${key}`, attr.span);
      if (v.kind !== 'String') sink.error(v.span, `${key} is a string`);
      else t.sandbox[key] = v.value;
      return;
    }
    case 'command': {
      t.spans.set('sandbox.command', attr.span);
      const list = constValue(v);
      if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) {
        sink.error(v.span, 'command is an array of strings, e.g. ["node", "agent.js"]');
      } else {
        t.sandbox.command = list;
      }
      return;
    }
    case 'env': {
      t.spans.set('sandbox.env', attr.span);
      const rec = constValue(v);
      if (
        typeof rec !== 'object' ||
        rec === null ||
        Array.isArray(rec) ||
        Object.values(rec).some((x) => typeof x === 'object')
      ) {
        sink.error(v.span, 'env is a record of names to values, e.g. { LOG_LEVEL: "info" }');
      } else {
        t.sandbox.env = Object.fromEntries(
          Object.entries(rec).map(([k, x]) => [k, typeof x === 'object' ? JSON.stringify(x) : String(x)]),
        );
      }
      return;
    }
    default: {
      const s = valueAsString(v);
      if (s === undefined) sink.error(v.span, `attribute '${key}' must be a constant value`);
      else t.meta[`dsl.${key}`] = s;
    }
  }
}
