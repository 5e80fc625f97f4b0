/**
 * The canonical formatter: `format(program)` prints a definition in one style (4-space indent, one
 * item/statement/rule per line, expressions on one line), keeping attached comments. It is
 * idempotent, and `parse(format(ast))` gives back the same AST apart from positions and redundant
 * parentheses.
 */
import type * as A from './ast.js';
import { PRECEDENCE } from './precedence.js';
import { encodeString } from './source.js';

const INDENT = '    ';
/** Longer with-block headers put one attribute per line. */
const MAX_WIDTH = 100;

/** Formats a parsed program. */
export function format(program: A.Program): string {
  const out: string[] = [];
  program.items.forEach((item, i) => {
    if (i > 0) out.push('');
    withComments(out, '', item, () => topItem(item, ''));
  });
  for (const c of program.danglingComments ?? []) {
    if (out.length > 0) out.push('');
    out.push(c.text);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** Pushes an element's lines (from `render`, already indented) with its leading and trailing comments. */
function withComments(
  out: string[],
  indent: string,
  node: { comments?: A.AttachedComments },
  render: () => string,
): void {
  for (const c of node.comments?.leading ?? []) out.push(indent + c.text);
  const text = render();
  const trailing = node.comments?.trailing ?? [];
  out.push(trailing.length > 0 ? `${text} ${trailing.map((c) => c.text).join(' ')}` : text);
}

/** Prints `open`, the elements one per line, dangling comments, and `}`; `open {}` when all are empty. */
function braced<N extends { comments?: A.AttachedComments; span: A.Span }>(
  open: string,
  indent: string,
  elements: readonly N[],
  dangling: readonly A.Comment[] | undefined,
  render: (n: N, inner: string) => string,
  blankLines: 'always' | 'source' = 'source',
): string {
  if (elements.length === 0 && !dangling?.length) return `${open} {}`;
  const inner = indent + INDENT;
  const lines: string[] = [`${open} {`];
  elements.forEach((el, i) => {
    if (i > 0 && (blankLines === 'always' || hadBlankLine(elements[i - 1] as N, el))) lines.push('');
    withComments(lines, inner, el, () => inner + render(el, inner));
  });
  for (const c of dangling ?? []) lines.push(inner + c.text);
  lines.push(`${indent}}`);
  return lines.join('\n');
}

/** Keeps one blank line where the source had at least one between two elements. */
function hadBlankLine(
  prev: { span: A.Span },
  next: { span: A.Span; comments?: A.AttachedComments },
): boolean {
  const firstLine = next.comments?.leading[0]?.span.start.line ?? next.span.start.line;
  return firstLine - prev.span.end.line > 1;
}

function topItem(item: A.TopItem | A.AgentItem, indent: string): string {
  switch (item.kind) {
    case 'Metadata':
      return braced('metadata', indent, item.entries, item.danglingComments, (e, inner) => entry(e, inner));
    case 'Agent': {
      let head = `agent ${item.name.name}`;
      if (item.params) head += `(${item.params.map(param).join(', ')})`;
      if (item.returnType) head += ` -> ${typeRef(item.returnType)}`;
      return braced(
        head,
        indent,
        item.items,
        item.danglingComments,
        (it, inner) => topItem(it, inner),
        'always',
      );
    }
    case 'Policy':
      return braced(`policy ${item.name.name}`, indent, item.rules, item.danglingComments, (r, inner) =>
        rule(r, inner),
      );
    case 'TypeDef':
      if (item.body.kind === 'TypeRef') return `type ${item.name.name} = ${typeRef(item.body)}`;
      return braced(
        `type ${item.name.name} =`,
        indent,
        item.body.fields,
        undefined,
        (f) => `${f.name.name}: ${typeRef(f.type)}`,
      );
    case 'Function': {
      const ret = item.returnType ? ` -> ${typeRef(item.returnType)}` : '';
      return block(
        `function ${item.name.name}(${item.params.map(param).join(', ')})${ret}`,
        item.body,
        indent,
      );
    }
    case 'Schedule':
      return braced(`schedule ${item.name.name}`, indent, item.entries, item.danglingComments, (e, inner) =>
        entry(e, inner),
      );
    case 'Channel':
      return braced(`channel ${item.name.name}`, indent, item.members, item.danglingComments, (m, inner) => {
        if (m.kind === 'Entry') return entry(m, inner);
        if (m.kind === 'Policy') return topItem(m, inner);
        return braced(
          'data_classification',
          inner,
          m.entries,
          undefined,
          (c) => `${c.key.name}: ${c.value.name}`,
        );
      });
    case 'Memory':
    case 'Webhook':
      return braced(
        `${item.kind === 'Memory' ? 'memory' : 'webhook'} ${item.name.name}`,
        indent,
        item.members,
        item.danglingComments,
        (m, inner) =>
          m.kind === 'Entry'
            ? entry(m, inner)
            : braced(m.keyword, inner, m.entries, undefined, (e, i2) => entry(e, i2)),
      );
    case 'Capabilities':
      return `capabilities${item.sep === '=' ? ' = ' : ': '}${expr(item.list, indent)}`;
    case 'With': {
      const parts = item.attributes.map((a) => `${a.key.name} = ${expr(a.value, indent)}`);
      const oneLine = parts.join(', ');
      const attrs =
        indent.length + oneLine.length <= MAX_WIDTH ? oneLine : parts.join(`,\n${indent}${INDENT}${INDENT}`);
      return block(attrs ? `with ${attrs}` : 'with', item.body, indent);
    }
  }
}

function entry(e: A.Entry, indent: string): string {
  const sep = e.sep === '=' ? ' = ' : e.sep === ':' ? ': ' : ' ';
  return `${e.key.name}${sep}${expr(e.value, indent)}`;
}

function rule(r: A.PolicyRule, indent: string): string {
  const cond = r.condition ? ` if ${expr(r.condition, indent)}` : '';
  return `${r.ruleKind}: ${expr(r.expr, indent)}${cond}`;
}

const param = (p: A.Param): string => `${p.name.name}: ${typeRef(p.type)}`;

function typeRef(t: A.TypeRef): string {
  return t.args.length === 0 ? t.name.name : `${t.name.name}<${t.args.map(typeRef).join(', ')}>`;
}

// ---------------------------------------------------------------------------------------------
// Statements

type BlockElement = A.Statement | A.Expr;

function block(head: string, b: A.Block, indent: string): string {
  const elements: BlockElement[] = [...b.statements, ...(b.tail ? [b.tail] : [])];
  return braced(head, indent, elements, b.danglingComments, (el, inner) =>
    el === b.tail ? statementExpr(el, inner) : statement(el as A.Statement, inner),
  );
}

function statement(s: A.Statement, indent: string): string {
  switch (s.kind) {
    case 'Let':
      return `let ${s.name.name} = ${expr(s.value, indent)};`;
    case 'If': {
      let text = s.branches
        .map((b, i) => {
          const pattern = b.pattern ? `let ${patternText(b.pattern)} = ` : '';
          return block(
            `${i === 0 ? 'if' : ' else if'} ${pattern}${condition(b.cond, indent)}`,
            b.body,
            indent,
          );
        })
        .join('');
      if (s.otherwise) text += block(' else', s.otherwise, indent);
      return text;
    }
    case 'For':
      return block(`for ${s.binding.name} in ${condition(s.iterable, indent)}`, s.body, indent);
    case 'Match':
      return braced(
        `match ${condition(s.subject, indent)}`,
        indent,
        s.arms,
        s.danglingComments,
        (arm, inner) => {
          if (arm.body.kind === 'Block') return block(`${patternText(arm.pattern)} =>`, arm.body, inner);
          const body = startsWithEmptyRecord(arm.body) ? `(${expr(arm.body, inner)})` : expr(arm.body, inner);
          return `${patternText(arm.pattern)} => ${body},`;
        },
      );
    case 'Try': {
      let text = block('try', s.body, indent);
      for (const c of s.catches)
        text += block(` catch (${c.names.map((n) => n.name).join(' ')})`, c.body, indent);
      return text;
    }
    case 'Return':
      return s.value ? `return ${expr(s.value, indent)};` : 'return;';
    case 'Assign':
      return `${statementExpr(s.target, indent)} ${s.op} ${expr(s.value, indent)};`;
    case 'ExprStmt':
      return `${statementExpr(s.expr, indent)};`;
  }
}

function patternText(p: A.Pattern): string {
  switch (p.kind) {
    case 'WildcardPattern':
      return '_';
    case 'BindingPattern':
      return p.name.name;
    case 'LiteralPattern':
      return expr(p.value, '');
  }
}

/** An expression at the start of a statement: one starting with `if` would be read as an if-statement. */
function statementExpr(e: A.Expr, indent: string): string {
  return leftmost(e).kind === 'IfExpr' ? `(${expr(e, indent)})` : expr(e, indent);
}

/** In `if`/`for`/`match` heads a typed record `T { }` would swallow the block: parenthesise it. */
function condition(e: A.Expr, indent: string): string {
  return containsBareTypedRecord(e) ? `(${expr(e, indent)})` : expr(e, indent);
}

function leftmost(e: A.Expr): A.Expr {
  let x = e;
  for (;;) {
    if (x.kind === 'Binary') x = x.left;
    else if (x.kind === 'Member' || x.kind === 'Index') x = x.object;
    else if (x.kind === 'Call') x = x.callee;
    else return x;
  }
}

function startsWithEmptyRecord(e: A.Expr): boolean {
  const l = leftmost(e);
  return l.kind === 'Record' && l.entries.length === 0;
}

function containsBareTypedRecord(e: A.Expr): boolean {
  const stack: A.Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop() as A.Expr;
    if (x.kind === 'TypedRecord') return true;
    if (x.kind === 'Binary') stack.push(x.left, x.right);
    else if (x.kind === 'Unary') stack.push(x.operand);
    else if (x.kind === 'Member' || x.kind === 'Index') stack.push(x.object);
    else if (x.kind === 'Call') stack.push(x.callee);
    else if (x.kind === 'Lambda') stack.push(x.body);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Expressions

const UNARY = 7;
const POSTFIX = 8;
const PRIMARY = 9;

function precedence(e: A.Expr): number {
  switch (e.kind) {
    case 'Binary':
      return PRECEDENCE[e.op];
    case 'Unary':
      return UNARY;
    case 'Member':
    case 'Call':
    case 'Index':
      return POSTFIX;
    case 'Lambda':
      return 0; // its body extends as far as possible: parenthesise it inside any operator
    default:
      return PRIMARY;
  }
}

function wrap(e: A.Expr, min: number, indent: string): string {
  return precedence(e) < min ? `(${expr(e, indent)})` : expr(e, indent);
}

/** Prints an expression on one line (blocks of if-expressions span lines at `indent`). */
export function expr(e: A.Expr, indent: string): string {
  switch (e.kind) {
    case 'String':
      return encodeString(e.value);
    case 'Number':
      return e.raw;
    case 'Duration':
      return e.raw;
    case 'Boolean':
      return e.value ? 'true' : 'false';
    case 'Identifier':
      return e.name;
    case 'Vault':
      return `vault://${e.path}`;
    case 'Binary': {
      const p = PRECEDENCE[e.op];
      return `${wrap(e.left, p, indent)} ${e.op} ${wrap(e.right, p + 1, indent)}`;
    }
    case 'Unary': {
      const operand = wrap(e.operand, UNARY, indent);
      return e.op === 'not' ? `not ${operand}` : `${e.op}${operand}`;
    }
    case 'Member': {
      // `5.x` would lex as a bad duration and `vault://a.x` as one vault path: parenthesise those.
      const glued = (e.object.kind === 'Number' && !e.object.raw.includes('.')) || e.object.kind === 'Vault';
      const obj = glued ? `(${expr(e.object, indent)})` : wrap(e.object, POSTFIX, indent);
      return `${obj}.${e.property.name}`;
    }
    case 'Call':
      return `${wrap(e.callee, POSTFIX, indent)}(${e.args.map((a) => callArg(a, indent)).join(', ')})`;
    case 'Index':
      return `${wrap(e.object, POSTFIX, indent)}[${expr(e.index, indent)}]`;
    case 'Lambda':
      return `${e.param.name} => ${expr(e.body, indent)}`;
    case 'IfExpr': {
      const head = e.branches
        .map((b, i) => block(`${i === 0 ? 'if' : ' else if'} ${condition(b.cond, indent)}`, b.body, indent))
        .join('');
      return head + block(' else', e.otherwise, indent);
    }
    case 'Array':
      return `[${e.elements.map((x) => expr(x, indent)).join(', ')}]`;
    case 'Record':
      return e.entries.length === 0 ? '{}' : `{ ${e.entries.map((r) => recordEntry(r, indent)).join(', ')} }`;
    case 'TypedRecord':
      return e.entries.length === 0
        ? `${e.typeName.name} {}`
        : `${e.typeName.name} { ${e.entries.map((r) => recordEntry(r, indent)).join(', ')} }`;
    case 'Paren':
      return `(${expr(e.expr, indent)})`;
  }
}

function callArg(a: A.CallArg, indent: string): string {
  if (!a.name) return expr(a.value, indent);
  return `${a.name.name}${a.sep === '=' ? ' = ' : ': '}${expr(a.value, indent)}`;
}

function recordEntry(r: A.RecordEntry, indent: string): string {
  const key = r.key.kind === 'String' ? encodeString(r.key.value) : r.key.name;
  return `${key}: ${expr(r.value, indent)}`;
}
