/**
 * The agent definition language (Symbiont DSL, docs/dsl.md): a Chevrotain parser producing a typed
 * AST with source positions and located `found X, expected Y` errors, a canonical formatter, and the
 * compiler from definitions to AgentConfig, Cedar policies (with obligations) and schedules for
 * Temporal.
 */
export type * from './ast.js';
export {
  parseDsl,
  parseDslOrThrow,
  MAX_NESTING_DEPTH,
  type ParseOptions,
  type ParseResult,
} from './parse.js';
export { format } from './format.js';
export {
  compileFile,
  compileProgram,
  compileSource,
  type CompileOptions,
  type CompileResult,
} from './compile.js';
export { type AgentBinding } from './compile-agent.js';
export { type CompileProblem } from './compile-context.js';
export {
  cedarAction,
  cedarAgent,
  type CompiledPolicy,
  type Obligation,
  type PolicyScope,
} from './compile-policy.js';
export { cronProblem, toTemporalScheduleSpec, type ScheduleDefinition } from './compile-schedule.js';
export { constValue, type ConstValue } from './compile-values.js';
export {
  DslCompileError,
  DslFormatError,
  DslSyntaxError,
  formatDiagnostic,
  type Diagnostic,
} from './errors.js';
export { formatSource, type FormatSourceResult } from './format-source.js';
export { PRECEDENCE } from './precedence.js';
