/**
 * Problems found while compiling a definition, located at the node that caused them.
 */
import type { Span } from './ast.js';
import type { Diagnostic } from './errors.js';

/** A compile problem: errors stop deployment; warnings are shown and do not. */
export interface CompileProblem extends Diagnostic {
  readonly severity: 'error' | 'warning';
}

export class ProblemSink {
  readonly problems: CompileProblem[] = [];

  constructor(readonly file: string) {}

  error(span: Span, message: string): void {
    this.add('error', span, message);
  }

  warning(span: Span, message: string): void {
    this.add('warning', span, message);
  }

  private add(severity: CompileProblem['severity'], span: Span, message: string): void {
    this.problems.push({
      severity,
      file: this.file,
      line: span.start.line,
      column: span.start.column,
      offset: span.start.offset,
      message,
    });
  }

  get hasErrors(): boolean {
    return this.problems.some((p) => p.severity === 'error');
  }
}
