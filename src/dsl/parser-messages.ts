/**
 * Chevrotain error messages in the form the DSL reports: `found X, expected Y`.
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { EOF } from 'chevrotain';

const label = (t: TokenType): string => t.LABEL ?? t.name;

/** The offending token as shown in messages: on one line, at most 40 characters. */
export const describeFound = (t: IToken): string => {
  if (t.tokenType === EOF) return 'end of file';
  const oneLine = t.image.replace(/\r?\n/g, '\\n');
  return `'${oneLine.length > 40 ? `${oneLine.slice(0, 39)}…` : oneLine}'`;
};

const oneOf = (labels: string[]): string => {
  const unique = [...new Set(labels)];
  if (unique.length <= 1) return unique[0] ?? 'something else';
  return `one of ${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
};

export const TOP_LEVEL_EXPECTED =
  "a top-level item: 'metadata', 'agent', 'policy', 'type', 'function', 'schedule', 'channel', 'memory' or 'webhook'";

export const dslErrorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    if (expected === EOF) return `found ${describeFound(actual)}, expected ${TOP_LEVEL_EXPECTED}`;
    let what = label(expected);
    if (ruleName === 'typeRef' && what === 'a name') what = 'a type (e.g. String, int or a type name)';
    return `found ${describeFound(actual)}, expected ${what}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `found ${describeFound(firstRedundant)}, expected ${TOP_LEVEL_EXPECTED}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, customUserDescription }) {
    const found = actual[0] ? describeFound(actual[0]) : 'end of file';
    if (customUserDescription) return `found ${found}, expected ${customUserDescription}`;
    const firsts = expectedPathsPerAlt.flatMap((paths) =>
      paths.map((p) => (p[0] ? label(p[0]) : '')).filter(Boolean),
    );
    return `found ${found}, expected ${oneOf(firsts)}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, customUserDescription }) {
    const found = actual[0] ? describeFound(actual[0]) : 'end of file';
    if (customUserDescription) return `found ${found}, expected ${customUserDescription}`;
    return `found ${found}, expected ${oneOf(expectedIterationPaths.map((p) => (p[0] ? label(p[0]) : '')).filter(Boolean))}`;
  },
};
