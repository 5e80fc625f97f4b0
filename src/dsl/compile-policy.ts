/**
 * Policy rules → Cedar. `allow` → permit, `deny` → forbid, `if` → `when { }` over the rule's bound
 * argument (`read(doc) if doc.x == 1` → `resource.x == 1`). Principals are `Ars::Agent::"<agent>"`,
 * actions `Ars::Action::"capability:<name>"`, resources `Ars::Resource` with attributes.
 * `require` and `audit` rules become obligations. A rule that cannot be translated is reported with
 * its position, never dropped. The generated text is checked with Cedar's own parser.
 */
import { checkParsePolicySet, validate } from '@cedar-policy/cedar-wasm/nodejs';
import type * as A from './ast.js';
import type { ProblemSink } from './compile-context.js';
import { constValue, type ConstValue } from './compile-values.js';
import { expr as exprText } from './format.js';

export interface Obligation {
  readonly kind: 'require' | 'audit';
  /** The rule's value as data (`{ approval: true }` → `{ approval: true }`; names become strings). */
  readonly value: ConstValue | undefined;
  /** The rule's expression as source text (always present, also when `value` is not constant). */
  readonly expression: string;
  /** The `if` condition as source text, when the rule has one. */
  readonly condition?: string;
  /** `file:line:column` of the rule. */
  readonly source: string;
}

export interface CompiledPolicy {
  /** `<agent>.<policy>`, `channel.<channel>.<policy>` or the policy name for top-level policies. */
  readonly id: string;
  /** The agent the policy belongs to (principal), absent for top-level and channel policies. */
  readonly agent?: string;
  /** Cedar policy set text; empty when the policy only has obligations. */
  readonly text: string;
  readonly obligations: Obligation[];
}

export interface PolicyScope {
  readonly agent?: string;
  readonly channel?: string;
  /** Cedar schema text: when given, every generated rule is validated against it. */
  readonly schema?: string;
}

const cedarString = (s: string): string => `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
export const cedarAction = (capability: string): string =>
  `Ars::Action::${cedarString(`capability:${capability}`)}`;
export const cedarAgent = (name: string): string => `Ars::Agent::${cedarString(name)}`;

class Untranslatable extends Error {
  constructor(
    readonly node: A.Expr,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Compiles one policy block. Returns undefined when any rule failed (problems are in `sink`). */
export function compilePolicy(
  policy: A.PolicyDef,
  scope: PolicyScope,
  sink: ProblemSink,
): CompiledPolicy | undefined {
  const id = scope.agent
    ? `${scope.agent}.${policy.name.name}`
    : scope.channel
      ? `channel.${scope.channel}.${policy.name.name}`
      : policy.name.name;
  const texts: string[] = [];
  const bySpan: { id: string; text: string; span: A.Span }[] = [];
  const obligations: Obligation[] = [];
  let failed = false;
  policy.rules.forEach((rule, i) => {
    const source = `${sink.file}:${rule.span.start.line}:${rule.span.start.column}`;
    if (rule.ruleKind === 'require' || rule.ruleKind === 'audit') {
      obligations.push({
        kind: rule.ruleKind,
        value: constValue(rule.expr),
        expression: exprText(rule.expr, ''),
        ...(rule.condition ? { condition: exprText(rule.condition, '') } : {}),
        source,
      });
      return;
    }
    try {
      const text = ruleToCedar(rule, `${id}.${i + 1}`, source, scope);
      texts.push(text);
      bySpan.push({ id: `${id}.${i + 1}`, text, span: rule.span });
    } catch (error) {
      if (!(error instanceof Untranslatable)) throw error;
      failed = true;
      sink.error(
        error.node.span,
        `${rule.ruleKind} rule of policy '${policy.name.name}' cannot be compiled to Cedar: ${error.reason}`,
      );
    }
  });
  if (failed) return undefined;
  const text = texts.join('\n\n');
  if (text) {
    const check = checkParsePolicySet({ staticPolicies: text });
    if (check.type === 'failure') {
      sink.error(
        policy.span,
        `policy '${policy.name.name}' compiled to Cedar that does not parse (a bug in ARS): ${check.errors.map((e) => e.message).join('; ')}`,
      );
      return undefined;
    }
  }
  if (
    scope.schema !== undefined &&
    bySpan.length > 0 &&
    !validateAgainstSchema(policy, bySpan, scope.schema, sink)
  )
    return undefined;
  return { id, ...(scope.agent ? { agent: scope.agent } : {}), text, obligations };
}

function validateAgainstSchema(
  policy: A.PolicyDef,
  rules: { id: string; text: string; span: A.Span }[],
  schema: string,
  sink: ProblemSink,
): boolean {
  const answer = validate({
    schema,
    policies: { staticPolicies: Object.fromEntries(rules.map((r) => [r.id, r.text])) },
    validationSettings: { mode: 'strict' },
  });
  if (answer.type === 'failure') {
    sink.error(
      policy.span,
      `the Cedar schema or policy '${policy.name.name}' is invalid: ${answer.errors.map((e) => e.message).join('; ')}`,
    );
    return false;
  }
  for (const v of answer.validationErrors) {
    const rule = rules.find((r) => r.id === v.policyId);
    sink.error(
      rule?.span ?? policy.span,
      `rule of policy '${policy.name.name}' does not fit the Cedar schema: ${v.error.message}`,
    );
  }
  return answer.validationErrors.length === 0;
}

function ruleToCedar(rule: A.PolicyRule, id: string, source: string, scope: PolicyScope): string {
  const { actions, binding } = ruleActions(rule.expr);
  const effect = rule.ruleKind === 'allow' ? 'permit' : 'forbid';
  const principal = scope.agent ? `principal == ${cedarAgent(scope.agent)}` : 'principal';
  const action =
    actions.length === 1
      ? `action == ${cedarAction(actions[0] as string)}`
      : `action in [${actions.map(cedarAction).join(', ')}]`;
  const conditions: string[] = [];
  if (scope.channel)
    conditions.push(`resource has channel && resource.channel == ${cedarString(scope.channel)}`);
  if (rule.condition) {
    const guards = new Set<string>();
    const cond = toCedar(rule.condition, binding, guards);
    const g = [...guards];
    if (g.length === 0) conditions.push(cond);
    // A missing attribute must not turn a forbid off: forbid unless the attributes exist and the condition is false.
    else if (effect === 'permit') conditions.push(`${g.join(' && ')} && ${cond}`);
    else conditions.push(`!(${g.join(' && ')}) || ${cond}`);
  }
  const when = conditions.length
    ? ` when {\n  ${conditions.map((c) => (conditions.length > 1 ? `(${c})` : c)).join(' && ')}\n}`
    : '';
  return `@id(${cedarString(id)})\n@source(${cedarString(source)})\n${effect} (\n  ${principal},\n  ${action},\n  resource\n)${when};`;
}

/** `read`, `"read"`, `["a", "b"]` or `read(doc)` (binding `doc` to the resource). */
function ruleActions(e: A.Expr): { actions: string[]; binding?: string } {
  const name = (x: A.Expr): string | undefined =>
    x.kind === 'String' ? x.value : x.kind === 'Identifier' ? x.name : undefined;
  const single = name(e);
  if (single !== undefined) return { actions: [single] };
  if (e.kind === 'Array') {
    if (e.elements.length === 0) throw new Untranslatable(e, 'the list of capabilities is empty');
    const names = e.elements.map((el) => {
      const n = name(el);
      if (n === undefined) throw new Untranslatable(el, 'list elements must be capability names or strings');
      return n;
    });
    return { actions: names };
  }
  if (e.kind === 'Call' && e.callee.kind === 'Identifier') {
    if (e.args.length === 0) return { actions: [e.callee.name] };
    const arg = e.args[0] as A.CallArg;
    if (e.args.length > 1 || arg.name || arg.value.kind !== 'Identifier') {
      throw new Untranslatable(
        e,
        `'${e.callee.name}(...)' takes one plain name that stands for the resource, e.g. ${e.callee.name}(doc)`,
      );
    }
    return { actions: [e.callee.name], binding: arg.value.name };
  }
  throw new Untranslatable(e, 'expected a capability name, a list of names, or capability(name)');
}

const BINARY: Partial<Record<A.BinaryOperator, string>> = {
  '||': '||',
  '&&': '&&',
  '==': '==',
  '!=': '!=',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  '+': '+',
  '-': '-',
  '*': '*',
};
const METHODS = new Set(['contains', 'containsAll', 'containsAny']);
const MAX_LONG = 2n ** 63n - 1n;

/** Translates a condition; attribute accesses add `has` guards to `guards`. */
function toCedar(e: A.Expr, binding: string | undefined, guards: Set<string>): string {
  switch (e.kind) {
    case 'Paren':
      return toCedar(e.expr, binding, guards);
    case 'Boolean':
      return String(e.value);
    case 'String':
      return cedarString(e.value);
    case 'Number':
      if (!/^[0-9_]+$/.test(e.raw) || BigInt(e.raw.replaceAll('_', '')) > MAX_LONG) {
        throw new Untranslatable(e, `Cedar numbers are whole numbers up to 2^63-1; '${e.raw}' is not one`);
      }
      return e.raw.replaceAll('_', '');
    case 'Array':
      return `[${e.elements.map((x) => toCedar(x, binding, guards)).join(', ')}]`;
    case 'Unary':
      return e.op === '-'
        ? `-(${toCedar(e.operand, binding, guards)})`
        : `!(${toCedar(e.operand, binding, guards)})`;
    case 'Binary': {
      const l = toCedar(e.left, binding, guards);
      const r = toCedar(e.right, binding, guards);
      if (e.op === 'in') return `(${r}).contains(${l})`;
      const op = BINARY[e.op];
      if (!op) throw new Untranslatable(e, `the operator '${e.op}' has no Cedar equivalent`);
      return `(${l} ${op} ${r})`;
    }
    case 'Identifier':
    case 'Member':
      return path(e, binding, guards);
    case 'Call': {
      if (
        e.callee.kind === 'Member' &&
        METHODS.has(e.callee.property.name) &&
        e.args.length === 1 &&
        !e.args[0]?.name
      ) {
        const obj = toCedar(e.callee.object, binding, guards);
        return `${obj}.${e.callee.property.name}(${toCedar((e.args[0] as A.CallArg).value, binding, guards)})`;
      }
      throw new Untranslatable(
        e,
        'only the methods contains, containsAll and containsAny can be used in a condition',
      );
    }
    default:
      throw new Untranslatable(e, `${describe(e)} cannot be used in a Cedar condition`);
  }
}

function describe(e: A.Expr): string {
  const names: Partial<Record<A.Expr['kind'], string>> = {
    Duration: 'a duration',
    Vault: 'a vault reference',
    Lambda: 'a lambda',
    IfExpr: 'an if-expression',
    Record: 'a record',
    TypedRecord: 'a typed record',
    Index: 'indexing',
  };
  return names[e.kind] ?? `'${exprText(e, '')}'`;
}

/** `doc.a.b` → `resource.a.b` with guards `resource has a`, `resource.a has b`. */
function path(e: A.Identifier | A.MemberExpr, binding: string | undefined, guards: Set<string>): string {
  const props: string[] = [];
  let x: A.Expr = e;
  while (x.kind === 'Member') {
    props.unshift(x.property.name);
    x = x.object;
  }
  if (x.kind !== 'Identifier') throw new Untranslatable(x, `${describe(x)} cannot start an attribute path`);
  let root: string;
  if (binding !== undefined && x.name === binding) root = 'resource';
  else if (x.name === 'agent' || x.name === 'principal') root = 'principal';
  else if (x.name === 'context') root = 'context';
  else {
    const bound = binding ? `the rule's argument '${binding}', ` : '';
    throw new Untranslatable(x, `unknown name '${x.name}'; a condition can use ${bound}agent and context`);
  }
  let text = root;
  for (const p of props) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))
      throw new Untranslatable(e, `attribute '${p}' is not a Cedar identifier`);
    guards.add(`${text} has ${p}`);
    text += `.${p}`;
  }
  return text;
}
