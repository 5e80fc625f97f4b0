/**
 * Entry point of the front end: lex, check nesting depth, parse with recovery, and attach comments.
 * Returns every problem found (several per file where the parser can recover), each located as
 * `file:line:column`.
 */
import type { ILexingError, IRecognitionException, IToken } from 'chevrotain';
import type { Comment, Program } from './ast.js';
import { attachComments } from './comments.js';
import { DslSyntaxError, type Diagnostic } from './errors.js';
import { DslParser } from './parser.js';
import { describeFound } from './parser-messages.js';
import { tokenEnd, tokenStart } from './source.js';
import * as T from './tokens.js';

/**
 * Deepest nesting of brackets, braces, parentheses and prefix operators accepted. The parser is
 * recursive-descent, so deeper input is refused before parsing instead of exhausting the stack.
 * @default 100
 */
export const MAX_NESTING_DEPTH = 100;

export interface ParseResult {
  /** The AST; present only when there are no diagnostics. */
  readonly program?: Program;
  readonly diagnostics: Diagnostic[];
  /** Comments the formatter could not attach to a statement or item (inside an expression). */
  readonly unplacedComments: Comment[];
}

export interface ParseOptions {
  /** Name used in diagnostics. @default '<input>' */
  readonly file?: string;
  /** @default MAX_NESTING_DEPTH */
  readonly maxDepth?: number;
}

let sharedParser: DslParser | undefined;
const parser = (): DslParser => (sharedParser ??= new DslParser());

const at = (
  file: string,
  t: { line: number; column: number; offset: number },
  message: string,
): Diagnostic => ({
  file,
  line: t.line,
  column: t.column,
  offset: t.offset,
  message,
});

/** Parses DSL source. Never throws for bad input: problems are returned as diagnostics. */
export function parseDsl(source: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? '<input>';
  const maxDepth = options.maxDepth ?? MAX_NESTING_DEPTH;
  const lexed = T.dslLexer.tokenize(source);
  const diagnostics: Diagnostic[] = lexed.errors.map((e: ILexingError) =>
    at(
      file,
      { line: e.line ?? 1, column: e.column ?? 1, offset: e.offset },
      `found '${source.substr(e.offset, e.length)}', expected a token of the language (name, number, string, operator or bracket)`,
    ),
  );
  const tokens = lexed.tokens.map((t) => lexicalCheck(t, file, diagnostics));
  const lastToken = tokens.at(-1);
  const endOfFile = lastToken ? tokenEnd(lastToken) : { line: 1, column: 1, offset: 0 };

  const tooDeep = nestingProblem(tokens, maxDepth, file);
  if (tooDeep) return { diagnostics: [...diagnostics, tooDeep], unplacedComments: [] };

  const p = parser();
  p.input = tokens;
  let program: Program | undefined;
  try {
    program = p.program();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    // Belt and braces: a construct the depth check does not count nested beyond the stack.
    p.input = [];
    return {
      diagnostics: [
        ...diagnostics,
        at(file, endOfFile, `the definition is nested too deeply to parse; split it into smaller parts`),
      ],
      unplacedComments: [],
    };
  }
  for (const e of p.errors) diagnostics.push(fromRecognition(e, file, endOfFile, tokens));
  for (const e of p.actionErrors) diagnostics.push(at(file, tokenStart(e.token), e.message));
  p.input = [];
  if (diagnostics.length > 0 || !program) {
    diagnostics.sort((a, b) => a.offset - b.offset);
    return { diagnostics: dedupe(diagnostics), unplacedComments: [] };
  }
  const comments: Comment[] = (lexed.groups['comments'] ?? []).map((t) => ({
    text: t.image,
    span: { start: tokenStart(t), end: tokenEnd(t) },
  }));
  const unplacedComments = attachComments(program, comments, tokens);
  return { program, diagnostics: [], unplacedComments };
}

/** Parses or throws DslSyntaxError listing every problem. */
export function parseDslOrThrow(source: string, options: ParseOptions = {}): Program {
  const result = parseDsl(source, options);
  if (!result.program) throw new DslSyntaxError(options.file ?? '<input>', result.diagnostics);
  return result.program;
}

/** Reports bad durations and unterminated strings, then lets parsing continue as if they were fine. */
function lexicalCheck(t: IToken, file: string, out: Diagnostic[]): IToken {
  if (t.tokenType === T.BadDuration) {
    out.push(
      at(
        file,
        tokenStart(t),
        `found '${t.image}', expected a duration such as 30s, 5m, 2h, 7d, 1w, 3months, 1y, 250ms or 60.seconds`,
      ),
    );
    return { ...t, tokenType: T.Duration, tokenTypeIdx: T.Duration.tokenTypeIdx as number };
  }
  if (t.tokenType === T.UnterminatedString) {
    out.push(
      at(
        file,
        tokenStart(t),
        `found an unterminated string, expected a closing '"' before the end of the file`,
      ),
    );
    return { ...t, tokenType: T.StringLit, tokenTypeIdx: T.StringLit.tokenTypeIdx as number };
  }
  return t;
}

const OPENERS = new Set([T.LParen, T.LBrace, T.LBracket]);
const CLOSERS = new Set([T.RParen, T.RBrace, T.RBracket]);
const PREFIX = new Set([T.Bang, T.Not, T.Minus]);

/** Depth of brackets plus runs of prefix operators (`!!!x`) and curried lambdas (`a => b => c`). */
function nestingProblem(tokens: IToken[], maxDepth: number, file: string): Diagnostic | undefined {
  let depth = 0;
  let run = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as IToken;
    const type = t.tokenType;
    if (OPENERS.has(type)) depth++;
    else if (CLOSERS.has(type)) depth = Math.max(0, depth - 1);
    if (PREFIX.has(type) || type === T.FatArrow) run++;
    else if (!(T.tokenIsName(t) && tokens[i + 1]?.tokenType === T.FatArrow)) run = 0;
    if (depth + run > maxDepth) {
      return at(
        file,
        tokenStart(t),
        `found '${t.image}' nested ${depth + run} levels deep, expected at most ${maxDepth} levels of nesting; split the expression or use let bindings`,
      );
    }
  }
  return undefined;
}

function fromRecognition(
  e: IRecognitionException,
  file: string,
  endOfFile: ReturnType<typeof tokenEnd>,
  tokens: IToken[],
): Diagnostic {
  const t = e.token;
  const atEnd = !(Number.isFinite(t.startOffset) && Number.isFinite(t.startLine));
  let message = e.message || `found ${describeFound(t)}`;
  if (atEnd) {
    const opener = unclosedOpener(tokens);
    if (opener)
      message += ` to close the '${opener.image}' opened at ${opener.startLine}:${opener.startColumn}`;
  }
  return at(file, atEnd ? endOfFile : tokenStart(t), message);
}

/** The innermost bracket still open at the end of the file, if any. */
function unclosedOpener(tokens: IToken[]): IToken | undefined {
  const stack: IToken[] = [];
  for (const t of tokens) {
    if (OPENERS.has(t.tokenType)) stack.push(t);
    else if (CLOSERS.has(t.tokenType)) stack.pop();
  }
  return stack.at(-1);
}

function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = `${d.offset}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
