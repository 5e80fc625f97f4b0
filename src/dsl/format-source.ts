/**
 * Formats source text: parse, refuse when a comment could not be placed, print canonically.
 */
import { DslFormatError, DslSyntaxError } from './errors.js';
import { format } from './format.js';
import { parseDsl } from './parse.js';

export interface FormatSourceResult {
  readonly formatted: string;
  readonly changed: boolean;
}

/** Formats DSL source. Throws DslSyntaxError if it does not parse, DslFormatError if a comment would be lost. */
export function formatSource(source: string, file = '<input>'): FormatSourceResult {
  const parsed = parseDsl(source, { file });
  if (!parsed.program) throw new DslSyntaxError(file, parsed.diagnostics);
  if (parsed.unplacedComments.length > 0) {
    throw new DslFormatError(
      file,
      parsed.unplacedComments.map((c) => ({
        file,
        line: c.span.start.line,
        column: c.span.start.column,
        offset: c.span.start.offset,
        message: `comment inside an expression cannot be kept by the formatter; move it to its own line before the statement`,
      })),
    );
  }
  const formatted = format(parsed.program);
  return { formatted, changed: formatted !== source };
}
