/**
 * Tokens of the agent definition language (Chevrotain lexer). Item and rule keywords are contextual:
 * they are in the `Identifier` category, so `type`, `memory` or `policy` still work as names.
 * Statement keywords (`let`, `if`, `match`, ...) are reserved.
 */
import { createToken, Lexer, tokenMatcher, type IToken, type TokenType } from 'chevrotain';

export const Identifier = createToken({
  name: 'Identifier',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  label: 'a name',
});

const contextual = (word: string): TokenType =>
  createToken({
    name: `Kw_${word}`,
    pattern: new RegExp(`${word}(?![A-Za-z0-9_])`),
    longer_alt: Identifier,
    categories: [Identifier],
    label: `'${word}'`,
  });
const reserved = (word: string, name = `Kw_${word}`): TokenType =>
  createToken({
    name,
    pattern: new RegExp(`${word}(?![A-Za-z0-9_])`),
    longer_alt: Identifier,
    label: `'${word}'`,
  });

export const Metadata = contextual('metadata');
export const Agent = contextual('agent');
export const Policy = contextual('policy');
export const Type = contextual('type');
export const Function = contextual('function');
export const Schedule = contextual('schedule');
export const Channel = contextual('channel');
export const Memory = contextual('memory');
export const Webhook = contextual('webhook');
export const Capabilities = contextual('capabilities');
export const With = contextual('with');
export const Allow = contextual('allow');
export const Deny = contextual('deny');
export const Require = contextual('require');
export const Audit = contextual('audit');
export const Search = contextual('search');
export const Filter = contextual('filter');
export const DataClassification = contextual('data_classification');

export const True = reserved('true');
export const False = reserved('false');
export const Let = reserved('let');
export const If = reserved('if');
export const Else = reserved('else');
export const For = reserved('for');
export const In = reserved('in');
export const Match = reserved('match');
export const Try = reserved('try');
export const Catch = reserved('catch');
export const Return = reserved('return');
export const Not = reserved('not');

const op = (name: string, text: string): TokenType =>
  createToken({ name, pattern: text, label: `'${text}'` });

export const Arrow = op('Arrow', '->');
export const FatArrow = op('FatArrow', '=>');
export const OrOr = op('OrOr', '||');
export const AndAnd = op('AndAnd', '&&');
export const EqEq = op('EqEq', '==');
export const NotEq = op('NotEq', '!=');
export const LtEq = op('LtEq', '<=');
export const GtEq = op('GtEq', '>=');
export const PlusEq = op('PlusEq', '+=');
export const MinusEq = op('MinusEq', '-=');
export const StarEq = op('StarEq', '*=');
export const SlashEq = op('SlashEq', '/=');
export const PercentEq = op('PercentEq', '%=');
export const Lt = op('Lt', '<');
export const Gt = op('Gt', '>');
export const Plus = op('Plus', '+');
export const Minus = op('Minus', '-');
export const Star = op('Star', '*');
export const Slash = op('Slash', '/');
export const Percent = op('Percent', '%');
export const Bang = op('Bang', '!');
export const Equals = op('Equals', '=');
export const Colon = op('Colon', ':');
export const Semicolon = op('Semicolon', ';');
export const Comma = op('Comma', ',');
export const Dot = op('Dot', '.');
export const LParen = op('LParen', '(');
export const RParen = op('RParen', ')');
export const LBrace = op('LBrace', '{');
export const RBrace = op('RBrace', '}');
export const LBracket = op('LBracket', '[');
export const RBracket = op('RBracket', ']');

/** `30s`, `5m`, `3months`, `60.seconds`; the longest unit spelling wins and no name character may follow. */
export const DURATION_UNITS = ['ms', 's', 'm', 'h', 'd', 'w', 'months', 'month', 'y'] as const;
export const DOT_DURATION_UNITS = [
  'milliseconds',
  'millisecond',
  'seconds',
  'second',
  'minutes',
  'minute',
  'hours',
  'hour',
  'days',
  'day',
  'weeks',
  'week',
  'months',
  'month',
  'years',
  'year',
] as const;
const NUM = '[0-9][0-9_]*(?:\\.[0-9][0-9_]*)?';
export const Duration = createToken({
  name: 'Duration',
  pattern: new RegExp(
    `${NUM}(?:months|month|ms|s|m|h|d|w|y)(?![A-Za-z0-9_])|[0-9][0-9_]*\\.(?:${DOT_DURATION_UNITS.join('|')})(?![A-Za-z0-9_])`,
  ),
  label: 'a duration',
});
/** A number glued to letters that are not a unit (`5x`, `10.secs`): reported as a bad duration. */
export const BadDuration = createToken({
  name: 'BadDuration',
  pattern: new RegExp(`${NUM}[A-Za-z][A-Za-z0-9_]*|[0-9][0-9_]*\\.[A-Za-z_][A-Za-z0-9_]*`),
  label: 'a duration',
});
export const NumberLit = createToken({ name: 'Number', pattern: new RegExp(NUM), label: 'a number' });
export const StringLit = createToken({
  name: 'String',
  pattern: /"(?:[^"\\]|\\[\s\S])*"/,
  line_breaks: true,
  label: 'a string',
});
/** A `"` with no closing quote before the end of the file. */
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\]|\\[\s\S])*\\?/,
  line_breaks: true,
  label: 'a string',
});
export const Vault = createToken({
  name: 'Vault',
  pattern: /vault:\/\/[A-Za-z0-9_\-/.]+/,
  label: 'a vault reference',
});

export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: 'comments' });
export const HashComment = createToken({ name: 'HashComment', pattern: /#[^\n\r]*/, group: 'comments' });
export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});

const keywords = [
  Metadata,
  Agent,
  Policy,
  Type,
  Function,
  Schedule,
  Channel,
  Memory,
  Webhook,
  Capabilities,
  With,
  Allow,
  Deny,
  Require,
  Audit,
  Search,
  Filter,
  DataClassification,
  True,
  False,
  Let,
  If,
  Else,
  For,
  In,
  Match,
  Try,
  Catch,
  Return,
  Not,
];

/** Order matters: longer operators before their prefixes, vault before names, durations before numbers. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  HashComment,
  StringLit,
  UnterminatedString,
  Vault,
  Duration,
  BadDuration,
  NumberLit,
  ...keywords,
  Identifier,
  Arrow,
  FatArrow,
  OrOr,
  AndAnd,
  EqEq,
  NotEq,
  LtEq,
  GtEq,
  PlusEq,
  MinusEq,
  StarEq,
  SlashEq,
  PercentEq,
  Lt,
  Gt,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  Bang,
  Equals,
  Colon,
  Semicolon,
  Comma,
  Dot,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
];

export const dslLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });

/** True for identifiers and contextual keywords (anything usable as a name). */
export const tokenIsName = (token: IToken): boolean => tokenMatcher(token, Identifier);
