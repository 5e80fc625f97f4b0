/**
 * Attaches source comments to the AST so the formatter keeps them: a comment on its own line goes
 * before the next item/statement/rule/entry (`leading`), a comment at the end of a line goes after the
 * item that ends on that line (`trailing`), and a comment before a closing brace stays inside that
 * block (`danglingComments`). Comments inside an expression cannot be placed and are returned.
 */
import type { IToken } from 'chevrotain';
import type * as A from './ast.js';

type Anchor = { comments?: A.AttachedComments; readonly span: A.Span };
type Container = { danglingComments?: A.Comment[]; readonly span: A.Span; readonly kind: string };

interface Index {
  anchors: Anchor[];
  containers: { node: Container; dangling: boolean }[];
}

/** Attaches `comments` in place; returns those that could not be attached. */
export function attachComments(program: A.Program, comments: A.Comment[], tokens: IToken[]): A.Comment[] {
  if (comments.length === 0) return [];
  const index: Index = { anchors: [], containers: [{ node: program, dangling: true }] };
  walkProgram(program, index);
  const anchorsByStart = new Map<number, Anchor>();
  const anchorsByEnd = new Map<number, Anchor>();
  for (const a of index.anchors) {
    if (!anchorsByStart.has(a.span.start.offset)) anchorsByStart.set(a.span.start.offset, a); // outermost
    anchorsByEnd.set(a.span.end.offset, a); // innermost (registered last)
  }
  const containersByEnd = new Map<number, { node: Container; dangling: boolean }>();
  for (const c of index.containers) containersByEnd.set(c.node.span.end.offset, c);

  const unplaced: A.Comment[] = [];
  for (const comment of comments) {
    const nextIdx = firstTokenAfter(tokens, comment.span.start.offset);
    const next = tokens[nextIdx];
    const prev = tokens[nextIdx - 1];
    const slot = (a: Anchor): A.AttachedComments => (a.comments ??= { leading: [], trailing: [] });
    if (prev && prev.endLine === comment.span.start.line) {
      const ended = anchorsByEnd.get((prev.endOffset ?? NaN) + 1);
      if (ended) {
        slot(ended).trailing.push(comment);
        continue;
      }
    }
    if (!next) {
      (program.danglingComments ??= []).push(comment);
      continue;
    }
    const started = anchorsByStart.get(next.startOffset);
    if (started) {
      slot(started).leading.push(comment);
      continue;
    }
    const container = next.image === '}' ? containersByEnd.get((next.endOffset ?? NaN) + 1) : undefined;
    if (container?.dangling) {
      (container.node.danglingComments ??= []).push(comment);
      continue;
    }
    unplaced.push(comment);
  }
  return unplaced;
}

function firstTokenAfter(tokens: IToken[], offset: number): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((tokens[mid] as IToken).startOffset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Registers a node that owns a closing brace; `dangling` when it can keep comments before that brace. */
function container(c: Container, index: Index, dangling: boolean): void {
  index.containers.push({ node: c, dangling });
}

function walkProgram(program: A.Program, index: Index): void {
  for (const item of program.items) {
    index.anchors.push(item);
    walkTop(item, index);
  }
}

function walkEntries(entries: readonly A.Entry[], index: Index): void {
  for (const e of entries) index.anchors.push(e);
}

function walkTop(item: A.TopItem | A.AgentItem, index: Index): void {
  switch (item.kind) {
    case 'Metadata':
    case 'Schedule':
      container(item, index, true);
      walkEntries(item.entries, index);
      break;
    case 'Agent':
      container(item, index, true);
      for (const sub of item.items) {
        index.anchors.push(sub);
        walkTop(sub, index);
      }
      break;
    case 'Policy':
      container(item, index, true);
      for (const r of item.rules) index.anchors.push(r);
      break;
    case 'TypeDef':
      if (item.body.kind === 'Struct') {
        container(item.body, index, false);
        for (const f of item.body.fields) index.anchors.push(f);
      }
      break;
    case 'Function':
      walkBlock(item.body, index);
      break;
    case 'Channel':
      container(item, index, true);
      for (const m of item.members) {
        index.anchors.push(m);
        if (m.kind === 'Policy') walkTop(m, index);
        else if (m.kind === 'DataClassification') {
          container(m, index, false);
          for (const e of m.entries) index.anchors.push(e);
        }
      }
      break;
    case 'Memory':
    case 'Webhook':
      container(item, index, true);
      for (const m of item.members) {
        index.anchors.push(m);
        if (m.kind === 'SubBlock') {
          container(m, index, false);
          walkEntries(m.entries, index);
        }
      }
      break;
    case 'Capabilities':
      break;
    case 'With':
      walkBlock(item.body, index);
      break;
  }
}

function walkBlock(block: A.Block, index: Index): void {
  container(block, index, true);
  for (const s of block.statements) {
    index.anchors.push(s);
    walkStatement(s, index);
  }
  if (block.tail) {
    index.anchors.push(block.tail);
    walkExprBlocks(block.tail, index);
  }
}

function walkStatement(s: A.Statement, index: Index): void {
  switch (s.kind) {
    case 'If':
      for (const b of s.branches) {
        walkExprBlocks(b.cond, index);
        walkBlock(b.body, index);
      }
      if (s.otherwise) walkBlock(s.otherwise, index);
      break;
    case 'For':
      walkExprBlocks(s.iterable, index);
      walkBlock(s.body, index);
      break;
    case 'Match':
      walkExprBlocks(s.subject, index);
      container(s, index, true);
      for (const arm of s.arms) {
        index.anchors.push(arm);
        if (arm.body.kind === 'Block') walkBlock(arm.body, index);
        else walkExprBlocks(arm.body, index);
      }
      break;
    case 'Try':
      walkBlock(s.body, index);
      for (const c of s.catches) walkBlock(c.body, index);
      break;
    case 'Let':
      walkExprBlocks(s.value, index);
      break;
    case 'Return':
      if (s.value) walkExprBlocks(s.value, index);
      break;
    case 'Assign':
      walkExprBlocks(s.value, index);
      break;
    case 'ExprStmt':
      walkExprBlocks(s.expr, index);
      break;
  }
}

/** Blocks inside expressions (if-expressions) hold statements that can carry comments. */
function walkExprBlocks(e: A.Expr, index: Index): void {
  const stack: A.Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop() as A.Expr;
    switch (x.kind) {
      case 'IfExpr':
        for (const b of x.branches) {
          stack.push(b.cond);
          walkBlock(b.body, index);
        }
        walkBlock(x.otherwise, index);
        break;
      case 'Binary':
        stack.push(x.left, x.right);
        break;
      case 'Unary':
        stack.push(x.operand);
        break;
      case 'Member':
        stack.push(x.object);
        break;
      case 'Call':
        stack.push(x.callee, ...x.args.map((a) => a.value));
        break;
      case 'Index':
        stack.push(x.object, x.index);
        break;
      case 'Lambda':
        stack.push(x.body);
        break;
      case 'Array':
        stack.push(...x.elements);
        break;
      case 'Record':
      case 'TypedRecord':
        stack.push(...x.entries.map((r) => r.value));
        break;
      case 'Paren':
        stack.push(x.expr);
        break;
      default:
        break;
    }
  }
}
