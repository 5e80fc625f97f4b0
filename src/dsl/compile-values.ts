/**
 * Constant values of the DSL as plain JavaScript, for compilation: literals, arrays and records.
 */
import type * as A from './ast.js';

export type ConstValue = string | number | boolean | ConstValue[] | { [key: string]: ConstValue };

/** The constant value of an expression, or undefined when it is not a constant. Names become strings. */
export function constValue(e: A.Expr): ConstValue | undefined {
  switch (e.kind) {
    case 'String':
      return e.value;
    case 'Number':
      return e.value;
    case 'Boolean':
      return e.value;
    case 'Identifier':
      return e.name;
    case 'Duration':
      return e.raw;
    case 'Vault':
      return `vault://${e.path}`;
    case 'Paren':
      return constValue(e.expr);
    case 'Array': {
      const out: ConstValue[] = [];
      for (const el of e.elements) {
        const v = constValue(el);
        if (v === undefined) return undefined;
        out.push(v);
      }
      return out;
    }
    case 'Record': {
      const out: Record<string, ConstValue> = {};
      for (const entry of e.entries) {
        const v = constValue(entry.value);
        if (v === undefined) return undefined;
        out[entry.key.kind === 'String' ? entry.key.value : entry.key.name] = v;
      }
      return out;
    }
    default:
      return undefined;
  }
}

/** A value as a metadata string: scalars as written, arrays and records as JSON. */
export function valueAsString(e: A.Expr): string | undefined {
  if (e.kind === 'Number') return e.raw;
  const v = constValue(e);
  if (v === undefined) return undefined;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
