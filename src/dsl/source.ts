/**
 * Source helpers shared by the parser and the formatter: positions of tokens, string escapes and
 * duration literals.
 */
import type { IToken } from 'chevrotain';
import type { Position, Span } from './ast.js';

export const tokenStart = (t: IToken): Position => ({
  line: t.startLine ?? NaN,
  column: t.startColumn ?? NaN,
  offset: t.startOffset,
});

/** The position just after the token's last character. */
export const tokenEnd = (t: IToken): Position => ({
  line: t.endLine ?? NaN,
  column: (t.endColumn ?? NaN) + 1,
  offset: (t.endOffset ?? NaN) + 1,
});

export const spanOf = (first: IToken, last: IToken): Span => ({
  start: tokenStart(first),
  end: tokenEnd(last),
});

const ESCAPES: Readonly<Record<string, string>> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '"': '"',
  '\\': '\\',
};

/** Decodes a quoted string literal (the quotes included). Unknown escapes keep the escaped character. */
export function decodeString(image: string): string {
  const body = image.endsWith('"') && image.length >= 2 ? image.slice(1, -1) : image.slice(1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (c === '\\' && i + 1 < body.length) {
      const next = body[++i] as string;
      out += ESCAPES[next] ?? next;
    } else {
      out += c;
    }
  }
  return out;
}

/** Encodes a string as a literal that decodes back to the same value. */
export function encodeString(value: string): string {
  return `"${value.replace(/[\\"\n\t\r\0]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\t':
        return '\\t';
      case '\r':
        return '\\r';
      case '\0':
        return '\\0';
      default:
        return `\\${c}`;
    }
  })}"`;
}

const MS: Readonly<Record<string, number>> = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1_000,
  second: 1_000,
  seconds: 1_000,
  m: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
  month: 2_592_000_000,
  months: 2_592_000_000,
  y: 31_536_000_000,
  year: 31_536_000_000,
  years: 31_536_000_000,
};

/** Splits `30s` / `60.seconds` into amount, unit (as written, `.seconds` keeps its dot) and milliseconds. */
export function durationFromImage(raw: string): { amount: number; unit: string; raw: string; ms: number } {
  const m = /^([0-9][0-9_]*(?:\.[0-9][0-9_]*)?)(\.?)([A-Za-z_][A-Za-z0-9_]*)$/.exec(raw);
  if (!m) return { amount: NaN, unit: '', raw, ms: NaN };
  const amount = Number((m[1] as string).replaceAll('_', ''));
  const unitName = m[3] as string;
  const perUnit = MS[unitName] ?? NaN;
  return { amount, unit: `${m[2]}${unitName}`, raw, ms: amount * perUnit };
}
