/**
 * Errors of the DSL front end. Each carries the located problems; messages read
 * `file:line:column: found X, expected Y` (syntax) or `file:line:column: <what and how to fix>`.
 */
import { ArsError } from '../util/errors.js';

/** One located problem in a definition file. */
export interface Diagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly offset: number;
  readonly message: string;
}

export const formatDiagnostic = (d: Diagnostic): string => `${d.file}:${d.line}:${d.column}: ${d.message}`;

/** The file does not parse; nothing was compiled or deployed. */
export class DslSyntaxError extends ArsError {
  readonly code = 'ARS_DSL_SYNTAX';

  constructor(
    readonly file: string,
    readonly diagnostics: readonly Diagnostic[],
  ) {
    super(
      `${file} has ${diagnostics.length} syntax error${diagnostics.length === 1 ? '' : 's'}:\n${diagnostics.map(formatDiagnostic).join('\n')}`,
    );
  }
}

/** The file parses but some definitions cannot be compiled; nothing was deployed. */
export class DslCompileError extends ArsError {
  readonly code = 'ARS_DSL_COMPILE';

  constructor(
    readonly file: string,
    readonly problems: readonly Diagnostic[],
  ) {
    super(`${file} cannot be compiled:\n${problems.map(formatDiagnostic).join('\n')}`);
  }
}

/** The formatter cannot keep a comment (it sits inside an expression); the file was left unchanged. */
export class DslFormatError extends ArsError {
  readonly code = 'ARS_DSL_FORMAT';

  constructor(
    readonly file: string,
    readonly diagnostics: readonly Diagnostic[],
  ) {
    super(
      `${file} cannot be formatted without losing comments:\n${diagnostics.map(formatDiagnostic).join('\n')}`,
    );
  }
}
