/** Test helpers: compare ASTs modulo positions, comments and redundant parentheses; walk all nodes. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Program } from '../../../src/dsl/index.js';

const IGNORED = new Set(['span', 'comments', 'danglingComments']);

/** A copy of the AST without positions and comments, with `Paren` nodes replaced by their content. */
export function stripAst(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripAst);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if (obj['kind'] === 'Paren') return stripAst(obj['expr']);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (!IGNORED.has(k) && v !== undefined) out[k] = stripAst(v);
  return out;
}

/** Every object with a `kind` in the AST (iterative: the tests feed deep trees). */
export function allNodes(program: Program): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const stack: unknown[] = [program];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...(v as unknown[]));
    else if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o['kind'] === 'string') out.push(o);
      for (const [k, child] of Object.entries(o))
        if (k !== 'span' && k !== 'comments' && k !== 'danglingComments') stack.push(child);
    }
  }
  const offset = (n: Record<string, unknown>): number =>
    (n['span'] as { start: { offset: number } } | undefined)?.start.offset ?? 0;
  return out.sort((a, b) => offset(a) - offset(b));
}

/** Absolute path of a file in the repository (works from test/ under tsx and from dist/test/ after tsc). */
export function repoPath(relative: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'examples', 'dsl'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`repository root not found from ${import.meta.url}`);
    dir = parent;
  }
  return join(dir, relative);
}
