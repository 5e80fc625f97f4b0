import { CanonicalEncodingError } from './errors.js';

/** A value that has exactly one canonical encoding. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * The canonical encoding of audit data: JSON with object keys sorted (by UTF-16 code units), no
 * whitespace, strings escaped as JSON.stringify does, finite numbers only (-0 is 0). Rejects anything
 * without a single JSON meaning: undefined, NaN/Infinity, bigint, functions, symbols, and objects that
 * are not plain (Date, Map, Buffer, class instances).
 */
export function canonicalize(value: unknown): string {
  // The path of the value being encoded is kept as a stack and only joined when an error names it.
  return encode(value, []);
}

function pathOf(stack: readonly (string | number)[]): string {
  let path = '';
  for (const part of stack)
    path = typeof part === 'number' ? `${path}[${part}]` : path ? `${path}.${part}` : part;
  return path;
}

function encode(value: unknown, stack: (string | number)[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value))
        throw new CanonicalEncodingError(
          pathOf(stack),
          `${String(value)} has no canonical encoding; use a finite number`,
        );
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i += 1) {
          if (i > 0) out += ',';
          stack.push(i);
          out += encode(value[i], stack);
          stack.pop();
        }
        return `${out}]`;
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalEncodingError(
          pathOf(stack),
          'only plain objects can be encoded; convert Dates, Maps and class instances to plain values',
        );
      }
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).sort();
      let out = '{';
      for (let i = 0; i < keys.length; i += 1) {
        const key = keys[i] as string;
        if (i > 0) out += ',';
        stack.push(key);
        out += `${JSON.stringify(key)}:${encode(record[key], stack)}`;
        stack.pop();
      }
      return `${out}}`;
    }
    default:
      throw new CanonicalEncodingError(
        pathOf(stack),
        `a ${typeof value} has no canonical encoding; leave the field out or use null`,
      );
  }
}
