/**
 * The Chevrotain grammar of the agent definition language, with embedded actions that build the
 * typed AST (src/dsl/ast.ts) directly. Error recovery is on: several syntax errors in one file are
 * reported. Use `parseDsl` (parse.ts) rather than this class: it adds the nesting guard, lexical
 * checks and comment attachment.
 */
import { EmbeddedActionsParser, type IToken, type TokenType } from 'chevrotain';
import type * as A from './ast.js';
import { PRECEDENCE } from './precedence.js';
import { dslErrorMessages } from './parser-messages.js';
import { decodeString, durationFromImage, spanOf, tokenEnd, tokenStart } from './source.js';
import * as T from './tokens.js';

/** A problem found by a grammar action rather than by Chevrotain (e.g. an unknown rule kind). */
export interface ActionError {
  readonly token: IToken;
  readonly message: string;
}

type HasSpan = { readonly span: A.Span };

const BINARY_TOKENS: TokenType[] = [
  T.OrOr,
  T.AndAnd,
  T.EqEq,
  T.NotEq,
  T.In,
  T.LtEq,
  T.GtEq,
  T.Lt,
  T.Gt,
  T.Plus,
  T.Minus,
  T.Star,
  T.Slash,
  T.Percent,
];

/** Folds `a op b op c ...` into a left-associative tree by precedence (shunting-yard, no recursion). */
function foldBinary(operands: A.Expr[], operators: IToken[]): A.Expr {
  const values: A.Expr[] = [operands[0] as A.Expr];
  const ops: IToken[] = [];
  const reduce = (): void => {
    const right = values.pop() as A.Expr;
    const left = values.pop() as A.Expr;
    const op = ops.pop() as IToken;
    const span = left?.span && right?.span ? { start: left.span.start, end: right.span.end } : spanOf(op, op);
    values.push({ kind: 'Binary', op: op.image as A.BinaryOperator, left, right, span });
  };
  operators.forEach((op, i) => {
    const p = PRECEDENCE[op.image as A.BinaryOperator] ?? 0;
    while (ops.length > 0 && (PRECEDENCE[(ops.at(-1) as IToken).image as A.BinaryOperator] ?? 0) >= p)
      reduce();
    ops.push(op);
    values.push(operands[i + 1] as A.Expr);
  });
  while (ops.length > 0) reduce();
  return values[0] as A.Expr;
}

export class DslParser extends EmbeddedActionsParser {
  /** Inside `if`/`for`/`match` heads, `Name {` starts the block, not a typed record (as in Rust). */
  private noStruct = false;
  actionErrors: ActionError[] = [];

  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 3, errorMessageProvider: dslErrorMessages });
    this.performSelfAnalysis();
  }

  override reset(): void {
    super.reset();
    this.noStruct = false;
    this.actionErrors = [];
  }

  private nested<R>(noStruct: boolean, f: () => R): R {
    const prev = this.noStruct;
    this.noStruct = noStruct;
    try {
      return f();
    } finally {
      this.noStruct = prev;
    }
  }

  /** Span from a start token (or node) to the last token consumed so far. */
  private spanFrom(start: IToken | HasSpan | undefined): A.Span {
    const last = this.LA(0);
    const begin =
      start === undefined
        ? tokenStart(last)
        : 'span' in start && start.span
          ? start.span.start
          : tokenStart(start as IToken);
    return { start: begin, end: tokenEnd(last) };
  }

  /** `{ name:` or `{ "key":` starts a record; `{}` and anything else start a block. */
  private isRecordStart(): boolean {
    const t2 = this.LA(2).tokenType;
    return (
      this.LA(1).tokenType === T.LBrace &&
      (T.tokenIsName(this.LA(2)) || t2 === T.StringLit) &&
      this.LA(3).tokenType === T.Colon
    );
  }

  // ------------------------------------------------------------------------------------------
  // Top level

  program = this.RULE('program', (): A.Program => {
    const items: A.TopItem[] = [];
    this.MANY(() => items.push(this.SUBRULE(this.topItem)));
    return this.ACTION(() => ({
      kind: 'Program' as const,
      items: items.filter(Boolean),
      span: { start: { line: 1, column: 1, offset: 0 }, end: tokenEnd(this.LA(0)) },
    }));
  });

  private topItem = this.RULE('topItem', (): A.TopItem =>
    this.OR<A.TopItem>([
      { ALT: () => this.SUBRULE(this.metadataDef) },
      { ALT: () => this.SUBRULE(this.agentDef) },
      { ALT: () => this.SUBRULE(this.policyDef) },
      { ALT: () => this.SUBRULE(this.typeDef) },
      { ALT: () => this.SUBRULE(this.functionDef) },
      { ALT: () => this.SUBRULE(this.scheduleDef) },
      { ALT: () => this.SUBRULE(this.channelDef) },
      { ALT: () => this.SUBRULE(this.memoryDef) },
      { ALT: () => this.SUBRULE(this.webhookDef) },
    ]),
  );

  private identifier = this.RULE('identifier', (): A.Identifier => {
    const tok = this.CONSUME(T.Identifier);
    return this.ACTION(() => ({ kind: 'Identifier' as const, name: tok.image, span: spanOf(tok, tok) }));
  });

  private metadataDef = this.RULE('metadataDef', (): A.MetadataDef => {
    const kw = this.CONSUME(T.Metadata);
    this.CONSUME(T.LBrace);
    const entries: A.Entry[] = [];
    this.MANY(() => {
      entries.push(this.SUBRULE(this.constEntry));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Metadata' as const,
      entries: entries.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  /** `name (= | :) (value | array | record)` */
  private constEntry = this.RULE('constEntry', (): A.Entry => {
    const key = this.SUBRULE(this.identifier);
    const sep = this.SUBRULE(this.eqOrColon);
    const value = this.SUBRULE(this.constValue);
    return this.ACTION(() => ({ kind: 'Entry' as const, key, sep, value, span: this.spanFrom(key) }));
  });

  private eqOrColon = this.RULE('eqOrColon', (): '=' | ':' =>
    this.OR([
      { ALT: () => (this.CONSUME(T.Equals), '=' as const) },
      { ALT: () => (this.CONSUME(T.Colon), ':' as const) },
    ]),
  );

  /** A literal value: string, duration, number, boolean, bare identifier (or a vault reference). */
  private value = this.RULE('value', (): A.ValueNode | A.VaultRef =>
    this.OR<A.ValueNode | A.VaultRef>({
      DEF: [{ ALT: () => this.SUBRULE(this.literal) }, { ALT: () => this.SUBRULE(this.identifier) }],
      ERR_MSG: 'a value (string, number, duration, boolean or name)',
    }),
  );

  private literal = this.RULE(
    'literal',
    (): A.StringLiteral | A.NumberLiteral | A.DurationLiteral | A.BooleanLiteral | A.VaultRef =>
      this.OR<A.StringLiteral | A.NumberLiteral | A.DurationLiteral | A.BooleanLiteral | A.VaultRef>([
        {
          ALT: () => {
            const t = this.CONSUME(T.StringLit);
            return this.ACTION(() => ({
              kind: 'String' as const,
              value: decodeString(t.image),
              span: spanOf(t, t),
            }));
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(T.NumberLit);
            return this.ACTION(() => ({
              kind: 'Number' as const,
              value: Number(t.image.replaceAll('_', '')),
              raw: t.image,
              span: spanOf(t, t),
            }));
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(T.Duration);
            return this.ACTION(() => ({
              kind: 'Duration' as const,
              ...durationFromImage(t.image),
              span: spanOf(t, t),
            }));
          },
        },
        {
          ALT: () => {
            const t = this.OR2([{ ALT: () => this.CONSUME(T.True) }, { ALT: () => this.CONSUME(T.False) }]);
            return this.ACTION(() => ({
              kind: 'Boolean' as const,
              value: t.image === 'true',
              span: spanOf(t, t),
            }));
          },
        },
        {
          ALT: () => {
            const t = this.CONSUME(T.Vault);
            return this.ACTION(() => ({
              kind: 'Vault' as const,
              path: t.image.slice('vault://'.length),
              span: spanOf(t, t),
            }));
          },
        },
      ]),
  );

  private constValue = this.RULE('constValue', (): A.Expr =>
    this.OR<A.Expr>({
      DEF: [
        { ALT: () => this.SUBRULE(this.value) },
        { ALT: () => this.SUBRULE(this.constArray) },
        { ALT: () => this.SUBRULE(this.constRecord) },
      ],
      ERR_MSG: 'a value, an array or a record',
    }),
  );

  private constArray = this.RULE('constArray', (): A.ArrayExpr => {
    const open = this.CONSUME(T.LBracket);
    const elements: A.Expr[] = [];
    this.OPTION(() => {
      elements.push(this.SUBRULE(this.constValue));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        elements.push(this.SUBRULE2(this.constValue));
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    this.CONSUME(T.RBracket);
    return this.ACTION(() => ({
      kind: 'Array' as const,
      elements: elements.filter(Boolean),
      span: this.spanFrom(open),
    }));
  });

  private constRecord = this.RULE('constRecord', (): A.RecordExpr => {
    const open = this.CONSUME(T.LBrace);
    const entries: A.RecordEntry[] = [];
    this.MANY(() => {
      const key = this.SUBRULE(this.recordKey);
      this.SUBRULE(this.eqOrColon);
      const value = this.SUBRULE(this.constValue);
      this.ACTION(() => entries.push({ kind: 'RecordEntry', key, value, span: this.spanFrom(key) }));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({ kind: 'Record' as const, entries, span: this.spanFrom(open) }));
  });

  private recordKey = this.RULE('recordKey', (): A.Identifier | A.StringLiteral =>
    this.OR<A.Identifier | A.StringLiteral>([
      { ALT: () => this.SUBRULE(this.identifier) },
      {
        ALT: () => {
          const t = this.CONSUME(T.StringLit);
          return this.ACTION(() => ({
            kind: 'String' as const,
            value: decodeString(t.image),
            span: spanOf(t, t),
          }));
        },
      },
    ]),
  );

  private typeRef = this.RULE('typeRef', (): A.TypeRef => {
    const nameTok = this.CONSUME(T.Identifier);
    const name = this.ACTION(() => ({
      kind: 'Identifier' as const,
      name: nameTok.image,
      span: spanOf(nameTok, nameTok),
    }));
    const args: A.TypeRef[] = [];
    this.OPTION(() => {
      this.CONSUME(T.Lt);
      args.push(this.SUBRULE(this.typeRef));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        args.push(this.SUBRULE2(this.typeRef));
      });
      this.CONSUME(T.Gt);
    });
    return this.ACTION(() => ({
      kind: 'TypeRef' as const,
      name,
      args: args.filter(Boolean),
      span: this.spanFrom(name),
    }));
  });

  private param = this.RULE('param', (): A.Param => {
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.Colon);
    const type = this.SUBRULE(this.typeRef);
    return this.ACTION(() => ({ kind: 'Param' as const, name, type, span: this.spanFrom(name) }));
  });

  private paramList = this.RULE('paramList', (): A.Param[] => {
    const params: A.Param[] = [];
    this.CONSUME(T.LParen);
    this.MANY(() => {
      params.push(this.SUBRULE(this.param));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RParen);
    return params.filter(Boolean);
  });

  private returnType = this.RULE('returnType', (): A.TypeRef => {
    this.CONSUME(T.Arrow);
    return this.SUBRULE(this.typeRef);
  });

  private agentDef = this.RULE('agentDef', (): A.AgentDef => {
    const kw = this.CONSUME(T.Agent);
    const name = this.SUBRULE(this.identifier);
    const params = this.OPTION(() => this.SUBRULE(this.paramList));
    const returnType = this.OPTION2(() => this.SUBRULE(this.returnType));
    this.CONSUME(T.LBrace);
    const items: A.AgentItem[] = [];
    this.MANY(() => items.push(this.SUBRULE(this.agentItem)));
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Agent' as const,
      name,
      ...(params ? { params } : {}),
      ...(returnType ? { returnType } : {}),
      items: items.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  private agentItem = this.RULE('agentItem', (): A.AgentItem =>
    this.OR<A.AgentItem>({
      DEF: [
        { ALT: () => this.SUBRULE(this.capabilitiesItem) },
        { ALT: () => this.SUBRULE(this.policyDef) },
        { ALT: () => this.SUBRULE(this.functionDef) },
        { ALT: () => this.SUBRULE(this.withBlock) },
      ],
      ERR_MSG: "an agent item: 'capabilities', 'policy', 'function', 'with' or '}'",
    }),
  );

  private capabilitiesItem = this.RULE('capabilitiesItem', (): A.CapabilitiesItem => {
    const kw = this.CONSUME(T.Capabilities);
    const sep = this.SUBRULE(this.eqOrColon);
    const list = this.SUBRULE(this.constArray);
    return this.ACTION(() => ({ kind: 'Capabilities' as const, sep, list, span: this.spanFrom(kw) }));
  });

  private withBlock = this.RULE('withBlock', (): A.WithBlock => {
    const kw = this.CONSUME(T.With);
    const attributes: A.Entry[] = [];
    this.MANY(() => {
      const key = this.SUBRULE(this.identifier);
      this.CONSUME(T.Equals);
      const value = this.SUBRULE(this.constValue);
      this.ACTION(() => attributes.push({ kind: 'Entry', key, sep: '=', value, span: this.spanFrom(key) }));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    const body = this.SUBRULE(this.block);
    return this.ACTION(() => ({ kind: 'With' as const, attributes, body, span: this.spanFrom(kw) }));
  });

  private policyDef = this.RULE('policyDef', (): A.PolicyDef => {
    const kw = this.CONSUME(T.Policy);
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.LBrace);
    const rules: A.PolicyRule[] = [];
    this.MANY(() => rules.push(this.SUBRULE(this.rule)));
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Policy' as const,
      name,
      rules: rules.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  private rule = this.RULE('rule', (): A.PolicyRule => {
    const kindTok = this.OR({
      DEF: [
        { ALT: () => this.CONSUME(T.Allow) },
        { ALT: () => this.CONSUME(T.Deny) },
        { ALT: () => this.CONSUME(T.Require) },
        { ALT: () => this.CONSUME(T.Audit) },
        {
          // Any other name where a rule kind belongs: report it precisely and keep parsing the rule.
          IGNORE_AMBIGUITIES: true,
          ALT: () => {
            const t = this.CONSUME(T.Identifier);
            this.ACTION(() =>
              this.actionErrors.push({
                token: t,
                message: `found '${t.image}', expected a rule kind: 'allow', 'deny', 'require' or 'audit'`,
              }),
            );
            return t;
          },
        },
      ],
      ERR_MSG: "a rule kind: 'allow', 'deny', 'require' or 'audit'",
    });
    this.CONSUME(T.Colon);
    const expr = this.SUBRULE(this.expression);
    const condition = this.OPTION(() => {
      this.CONSUME(T.If);
      return this.SUBRULE2(this.expression);
    });
    return this.ACTION(() => ({
      kind: 'Rule' as const,
      ruleKind: kindTok.image as A.RuleKind,
      expr,
      ...(condition ? { condition } : {}),
      span: this.spanFrom(kindTok),
    }));
  });

  private typeDef = this.RULE('typeDef', (): A.TypeDef => {
    const kw = this.CONSUME(T.Type);
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.Equals);
    const body = this.OR<A.TypeDef['body']>([
      {
        ALT: () => {
          const open = this.CONSUME(T.LBrace);
          const fields: A.FieldDef[] = [];
          this.MANY(() => {
            const fname = this.SUBRULE2(this.identifier);
            this.CONSUME(T.Colon);
            const type = this.SUBRULE(this.typeRef);
            this.ACTION(() => fields.push({ kind: 'Field', name: fname, type, span: this.spanFrom(fname) }));
            this.OPTION(() => this.CONSUME(T.Comma));
          });
          this.CONSUME(T.RBrace);
          return this.ACTION(() => ({ kind: 'Struct' as const, fields, span: this.spanFrom(open) }));
        },
      },
      { ALT: () => this.SUBRULE2(this.typeRef) },
    ]);
    return this.ACTION(() => ({ kind: 'TypeDef' as const, name, body, span: this.spanFrom(kw) }));
  });

  private functionDef = this.RULE('functionDef', (): A.FunctionDef => {
    const kw = this.CONSUME(T.Function);
    const name = this.SUBRULE(this.identifier);
    const params = this.SUBRULE(this.paramList);
    const returnType = this.OPTION(() => this.SUBRULE(this.returnType));
    const body = this.SUBRULE(this.block);
    return this.ACTION(() => ({
      kind: 'Function' as const,
      name,
      params,
      ...(returnType ? { returnType } : {}),
      body,
      span: this.spanFrom(kw),
    }));
  });

  private scheduleDef = this.RULE('scheduleDef', (): A.ScheduleDef => {
    const kw = this.CONSUME(T.Schedule);
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.LBrace);
    const entries: A.Entry[] = [];
    this.MANY(() => {
      const key = this.SUBRULE2(this.identifier);
      const sep = this.SUBRULE(this.eqOrColon);
      const value = this.SUBRULE(this.value);
      this.ACTION(() => entries.push({ kind: 'Entry', key, sep, value, span: this.spanFrom(key) }));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({ kind: 'Schedule' as const, name, entries, span: this.spanFrom(kw) }));
  });

  private channelDef = this.RULE('channelDef', (): A.ChannelDef => {
    const kw = this.CONSUME(T.Channel);
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.LBrace);
    const members: A.ChannelDef['members'] = [];
    this.MANY(() => {
      const member = this.OR<A.ChannelDef['members'][number]>([
        { ALT: () => this.SUBRULE(this.policyDef) },
        { ALT: () => this.SUBRULE(this.dataClassification) },
        {
          IGNORE_AMBIGUITIES: true,
          ALT: () => {
            const key = this.SUBRULE2(this.identifier);
            const sep = this.SUBRULE(this.eqOrColon);
            const value = this.OR2<A.Expr>([
              { ALT: () => this.SUBRULE(this.value) },
              { ALT: () => this.SUBRULE(this.constArray) },
            ]);
            return this.ACTION(() => ({ kind: 'Entry' as const, key, sep, value, span: this.spanFrom(key) }));
          },
        },
      ]);
      members.push(member);
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Channel' as const,
      name,
      members: members.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  private dataClassification = this.RULE('dataClassification', (): A.DataClassificationBlock => {
    const kw = this.CONSUME(T.DataClassification);
    this.CONSUME(T.LBrace);
    const entries: A.ClassificationEntry[] = [];
    this.MANY(() => {
      const key = this.SUBRULE(this.identifier);
      this.CONSUME(T.Colon);
      const value = this.SUBRULE2(this.identifier);
      this.ACTION(() => entries.push({ kind: 'Classification', key, value, span: this.spanFrom(key) }));
      this.OPTION(() => this.CONSUME(T.Comma));
    });
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({ kind: 'DataClassification' as const, entries, span: this.spanFrom(kw) }));
  });

  /** `name value` entries (memory, webhook and their sub-blocks). */
  private spaceEntry = this.RULE('spaceEntry', (): A.Entry => {
    const key = this.SUBRULE(this.identifier);
    const value = this.SUBRULE(this.value);
    this.OPTION(() => this.CONSUME(T.Comma));
    return this.ACTION(() => ({
      kind: 'Entry' as const,
      key,
      sep: ' ' as const,
      value,
      span: this.spanFrom(key),
    }));
  });

  private subBlock = this.RULE('subBlock', (): A.SubBlock => {
    const kw = this.OR([{ ALT: () => this.CONSUME(T.Search) }, { ALT: () => this.CONSUME(T.Filter) }]);
    this.CONSUME(T.LBrace);
    const entries: A.Entry[] = [];
    this.MANY(() => entries.push(this.SUBRULE(this.spaceEntry)));
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'SubBlock' as const,
      keyword: kw.image as 'search' | 'filter',
      entries: entries.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  private memoryDef = this.RULE('memoryDef', (): A.MemoryDef => {
    const kw = this.CONSUME(T.Memory);
    const name = this.SUBRULE(this.identifier);
    const members = this.SUBRULE(this.spaceMembers, { ARGS: [T.Search] });
    return this.ACTION(() => ({ kind: 'Memory' as const, name, members, span: this.spanFrom(kw) }));
  });

  private webhookDef = this.RULE('webhookDef', (): A.WebhookDef => {
    const kw = this.CONSUME(T.Webhook);
    const name = this.SUBRULE(this.identifier);
    const members = this.SUBRULE(this.spaceMembers, { ARGS: [T.Filter] });
    return this.ACTION(() => ({ kind: 'Webhook' as const, name, members, span: this.spanFrom(kw) }));
  });

  private spaceMembers = this.RULE('spaceMembers', (sub: TokenType): (A.Entry | A.SubBlock)[] => {
    const members: (A.Entry | A.SubBlock)[] = [];
    this.CONSUME(T.LBrace);
    this.MANY(() => {
      const m = this.OR<A.Entry | A.SubBlock>([
        {
          GATE: () => this.LA(1).tokenType === sub && this.LA(2).tokenType === T.LBrace,
          ALT: () => this.SUBRULE(this.subBlock),
        },
        { IGNORE_AMBIGUITIES: true, ALT: () => this.SUBRULE(this.spaceEntry) },
      ]);
      members.push(m);
    });
    this.CONSUME(T.RBrace);
    return members.filter(Boolean);
  });

  // ------------------------------------------------------------------------------------------
  // Statements

  block = this.RULE('block', (): A.Block => {
    const open = this.CONSUME(T.LBrace);
    const statements: A.Statement[] = [];
    let tail: A.Expr | undefined;
    this.nested(false, () =>
      this.MANY(() => {
        const s = this.SUBRULE(this.statement);
        this.ACTION(() => {
          if (s === undefined) return;
          if ('tail' in s) tail = s.tail;
          else statements.push(s);
        });
      }),
    );
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Block' as const,
      statements,
      ...(tail ? { tail } : {}),
      span: this.spanFrom(open),
    }));
  });

  private statement = this.RULE('statement', (): A.Statement | { tail: A.Expr } =>
    this.OR<A.Statement | { tail: A.Expr }>({
      IGNORE_AMBIGUITIES: true,
      DEF: [
        { ALT: () => this.SUBRULE(this.letStmt) },
        { ALT: () => this.SUBRULE(this.ifStmt) },
        { ALT: () => this.SUBRULE(this.forStmt) },
        { ALT: () => this.SUBRULE(this.matchStmt) },
        { ALT: () => this.SUBRULE(this.tryStmt) },
        { ALT: () => this.SUBRULE(this.returnStmt) },
        { ALT: () => this.SUBRULE(this.exprStmt) },
      ],
      ERR_MSG: "a statement or '}'",
    }),
  );

  private letStmt = this.RULE('letStmt', (): A.LetStmt => {
    const kw = this.CONSUME(T.Let);
    const name = this.SUBRULE(this.identifier);
    this.CONSUME(T.Equals);
    const value = this.SUBRULE(this.expression);
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({ kind: 'Let' as const, name, value, span: this.spanFrom(kw) }));
  });

  private ifBranch = this.RULE('ifBranch', (kw: IToken): A.IfBranch<A.Block> => {
    const pattern = this.OPTION(() => {
      this.CONSUME(T.Let);
      const p = this.SUBRULE(this.pattern);
      this.CONSUME(T.Equals);
      return p;
    });
    const cond = this.nested(true, () => this.SUBRULE(this.expression));
    const body = this.SUBRULE(this.block);
    return this.ACTION(() => ({
      kind: 'IfBranch' as const,
      ...(pattern ? { pattern } : {}),
      cond,
      body,
      span: this.spanFrom(kw),
    }));
  });

  private ifStmt = this.RULE('ifStmt', (): A.IfStmt => {
    const kw = this.CONSUME(T.If);
    const branches = [this.SUBRULE(this.ifBranch, { ARGS: [kw] })];
    this.MANY(() => {
      const k = this.CONSUME(T.Else);
      this.CONSUME2(T.If);
      branches.push(this.SUBRULE2(this.ifBranch, { ARGS: [k] }));
    });
    const otherwise = this.OPTION(() => {
      this.CONSUME2(T.Else);
      return this.SUBRULE(this.block);
    });
    return this.ACTION(() => ({
      kind: 'If' as const,
      branches: branches.filter(Boolean),
      ...(otherwise ? { otherwise } : {}),
      span: this.spanFrom(kw),
    }));
  });

  private forStmt = this.RULE('forStmt', (): A.ForStmt => {
    const kw = this.CONSUME(T.For);
    const binding = this.SUBRULE(this.identifier);
    this.CONSUME(T.In);
    const iterable = this.nested(true, () => this.SUBRULE(this.expression));
    const body = this.SUBRULE(this.block);
    return this.ACTION(() => ({ kind: 'For' as const, binding, iterable, body, span: this.spanFrom(kw) }));
  });

  private matchStmt = this.RULE('matchStmt', (): A.MatchStmt => {
    const kw = this.CONSUME(T.Match);
    const subject = this.nested(true, () => this.SUBRULE(this.expression));
    this.CONSUME(T.LBrace);
    const arms: A.MatchArm[] = [];
    this.nested(false, () => this.MANY(() => arms.push(this.SUBRULE(this.matchArm))));
    this.CONSUME(T.RBrace);
    return this.ACTION(() => ({
      kind: 'Match' as const,
      subject,
      arms: arms.filter(Boolean),
      span: this.spanFrom(kw),
    }));
  });

  private matchArm = this.RULE('matchArm', (): A.MatchArm => {
    const pattern = this.SUBRULE(this.pattern);
    this.CONSUME(T.FatArrow);
    // One token of lookahead plus the gate: `{ name:` is a record expression, any other `{` a block.
    const body = this.OR<A.Expr | A.Block>({
      MAX_LOOKAHEAD: 1,
      IGNORE_AMBIGUITIES: true,
      DEF: [
        { GATE: () => !this.isRecordStart(), ALT: () => this.SUBRULE(this.block) },
        { ALT: () => this.SUBRULE(this.expression) },
      ],
    });
    this.OPTION(() => this.CONSUME(T.Comma));
    return this.ACTION(() => ({ kind: 'MatchArm' as const, pattern, body, span: this.spanFrom(pattern) }));
  });

  private pattern = this.RULE('pattern', (): A.Pattern =>
    this.OR<A.Pattern>({
      DEF: [
        {
          ALT: () => {
            const value = this.SUBRULE(this.literal);
            return this.ACTION(() => {
              if (value.kind === 'Duration' || value.kind === 'Vault') {
                this.actionErrors.push({
                  token: this.LA(0),
                  message: `found '${this.LA(0).image}', expected a pattern: a string, number, boolean, '_' or a name`,
                });
              }
              return {
                kind: 'LiteralPattern' as const,
                value: value as A.LiteralPattern['value'],
                span: value.span,
              };
            });
          },
        },
        {
          ALT: () => {
            const name = this.SUBRULE(this.identifier);
            return this.ACTION(() =>
              name.name === '_'
                ? { kind: 'WildcardPattern' as const, span: name.span }
                : { kind: 'BindingPattern' as const, name, span: name.span },
            );
          },
        },
      ],
      ERR_MSG: "a pattern: a string, number, boolean, '_' or a name",
    }),
  );

  private tryStmt = this.RULE('tryStmt', (): A.TryStmt => {
    const kw = this.CONSUME(T.Try);
    const body = this.SUBRULE(this.block);
    const catches: A.CatchClause[] = [];
    this.MANY(() => {
      const ck = this.CONSUME(T.Catch);
      this.CONSUME(T.LParen);
      const names = [this.SUBRULE(this.identifier)];
      this.OPTION(() => names.push(this.SUBRULE2(this.identifier)));
      this.CONSUME(T.RParen);
      const cbody = this.SUBRULE2(this.block);
      this.ACTION(() =>
        catches.push({ kind: 'Catch', names: names.filter(Boolean), body: cbody, span: this.spanFrom(ck) }),
      );
    });
    return this.ACTION(() => ({ kind: 'Try' as const, body, catches, span: this.spanFrom(kw) }));
  });

  private returnStmt = this.RULE('returnStmt', (): A.ReturnStmt => {
    const kw = this.CONSUME(T.Return);
    const value = this.OPTION(() => this.SUBRULE(this.expression));
    this.CONSUME(T.Semicolon);
    return this.ACTION(() => ({
      kind: 'Return' as const,
      ...(value ? { value } : {}),
      span: this.spanFrom(kw),
    }));
  });

  /** `e;`, `target op= e;`, or the block's final expression (only right before `}`). */
  private exprStmt = this.RULE('exprStmt', (): A.ExprStmt | A.AssignStmt | { tail: A.Expr } => {
    const expr = this.SUBRULE(this.expression);
    return this.OR<A.ExprStmt | A.AssignStmt | { tail: A.Expr }>({
      DEF: [
        {
          ALT: () => {
            this.CONSUME(T.Semicolon);
            return this.ACTION(() => ({ kind: 'ExprStmt' as const, expr, span: this.spanFrom(expr) }));
          },
        },
        {
          ALT: () => {
            const opTok = this.SUBRULE(this.assignOp);
            const value = this.SUBRULE2(this.expression);
            this.CONSUME2(T.Semicolon);
            return this.ACTION(() => {
              if (!['Identifier', 'Member', 'Index'].includes(expr.kind)) {
                this.actionErrors.push({
                  token: opTok,
                  message: `found '${opTok.image}' after an expression that cannot be assigned to, expected a name, a field (a.b) or an index (a[i]) before it`,
                });
              }
              return {
                kind: 'Assign' as const,
                target: expr,
                op: opTok.image as A.AssignOperator,
                value,
                span: this.spanFrom(expr),
              };
            });
          },
        },
        { GATE: () => this.LA(1).tokenType === T.RBrace, ALT: () => ({ tail: expr }) },
      ],
      ERR_MSG: "';' or '}' after the expression",
    });
  });

  private assignOp = this.RULE('assignOp', (): IToken =>
    this.OR([
      { ALT: () => this.CONSUME(T.Equals) },
      { ALT: () => this.CONSUME(T.PlusEq) },
      { ALT: () => this.CONSUME(T.MinusEq) },
      { ALT: () => this.CONSUME(T.StarEq) },
      { ALT: () => this.CONSUME(T.SlashEq) },
      { ALT: () => this.CONSUME(T.PercentEq) },
    ]),
  );

  // ------------------------------------------------------------------------------------------
  // Expressions, loosest to tightest

  /**
   * Binary expressions: a flat `unary (op unary)*` list folded by precedence (loosest to tightest:
   * `||`; `&&`; `==` `!=` `in`; `<` `>` `<=` `>=`; `+` `-`; `*` `/` `%`), all left-associative.
   * One rule instead of one per level keeps the parser fast and its recursion shallow.
   */
  expression = this.RULE('expression', (): A.Expr => {
    const operands: A.Expr[] = [this.SUBRULE(this.unaryExpr)];
    const operators: IToken[] = [];
    this.MANY(() => {
      operators.push(this.OR(BINARY_TOKENS.map((t) => ({ ALT: () => this.CONSUME(t) }))));
      operands.push(this.SUBRULE2(this.unaryExpr));
    });
    return this.ACTION(() => foldBinary(operands, operators));
  });

  private unaryExpr = this.RULE('unaryExpr', (): A.Expr =>
    this.OR<A.Expr>({
      ERR_MSG: 'an expression',
      DEF: [
        {
          ALT: () => {
            const opTok = this.OR2([
              { ALT: () => this.CONSUME(T.Bang) },
              { ALT: () => this.CONSUME(T.Not) },
              { ALT: () => this.CONSUME(T.Minus) },
            ]);
            const operand = this.SUBRULE(this.unaryExpr);
            return this.ACTION(() => ({
              kind: 'Unary' as const,
              op: opTok.image as A.UnaryOperator,
              operand,
              span: this.spanFrom(opTok),
            }));
          },
        },
        { ALT: () => this.SUBRULE(this.postfixExpr) },
      ],
    }),
  );

  private postfixExpr = this.RULE('postfixExpr', (): A.Expr => {
    let expr = this.SUBRULE(this.primary);
    this.MANY(() =>
      this.OR([
        {
          ALT: () => {
            this.CONSUME(T.Dot);
            const property = this.SUBRULE(this.identifier);
            this.ACTION(() => {
              expr = { kind: 'Member', object: expr, property, span: this.spanFrom(expr) };
            });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.LParen);
            const args = this.nested(false, () => this.SUBRULE(this.callArgs));
            this.CONSUME(T.RParen);
            this.ACTION(() => {
              expr = { kind: 'Call', callee: expr, args, span: this.spanFrom(expr) };
            });
          },
        },
        {
          ALT: () => {
            this.CONSUME(T.LBracket);
            const index = this.nested(false, () => this.SUBRULE(this.expression));
            this.CONSUME(T.RBracket);
            this.ACTION(() => {
              expr = { kind: 'Index', object: expr, index, span: this.spanFrom(expr) };
            });
          },
        },
      ]),
    );
    return expr;
  });

  private callArgs = this.RULE('callArgs', (): A.CallArg[] => {
    const args: A.CallArg[] = [];
    this.OPTION(() => {
      args.push(this.SUBRULE(this.callArg));
      this.MANY(() => {
        this.CONSUME(T.Comma);
        args.push(this.SUBRULE2(this.callArg));
      });
      this.OPTION2(() => this.CONSUME2(T.Comma));
    });
    return args.filter(Boolean);
  });

  private callArg = this.RULE('callArg', (): A.CallArg =>
    this.OR<A.CallArg>([
      {
        GATE: () => this.LA(2).tokenType === T.Colon || this.LA(2).tokenType === T.Equals,
        ALT: () => {
          const name = this.SUBRULE(this.identifier);
          const sep = this.SUBRULE(this.eqOrColon);
          const value = this.SUBRULE(this.expression);
          return this.ACTION(() => ({
            kind: 'CallArg' as const,
            name,
            sep,
            value,
            span: this.spanFrom(name),
          }));
        },
      },
      {
        IGNORE_AMBIGUITIES: true,
        ALT: () => {
          const value = this.SUBRULE2(this.expression);
          return this.ACTION(() => ({ kind: 'CallArg' as const, value, span: value.span }));
        },
      },
    ]),
  );

  private primary = this.RULE('primary', (): A.Expr =>
    this.OR<A.Expr>({
      DEF: [
        {
          ALT: () => {
            const param = this.SUBRULE(this.identifier);
            this.CONSUME(T.FatArrow);
            const body = this.SUBRULE(this.expression);
            return this.ACTION(() => ({ kind: 'Lambda' as const, param, body, span: this.spanFrom(param) }));
          },
        },
        {
          GATE: () => !this.noStruct,
          ALT: () => {
            const typeName = this.SUBRULE2(this.identifier);
            const entries = this.SUBRULE(this.recordBody);
            return this.ACTION(() => ({
              kind: 'TypedRecord' as const,
              typeName,
              entries,
              span: this.spanFrom(typeName),
            }));
          },
        },
        { ALT: () => this.SUBRULE(this.ifExpr) },
        { ALT: () => this.SUBRULE(this.literal) },
        { IGNORE_AMBIGUITIES: true, ALT: () => this.SUBRULE3(this.identifier) },
        {
          ALT: () => {
            const open = this.CONSUME(T.LBracket);
            const elements: A.Expr[] = [];
            this.nested(false, () =>
              this.OPTION(() => {
                elements.push(this.SUBRULE2(this.expression));
                this.MANY(() => {
                  this.CONSUME(T.Comma);
                  elements.push(this.SUBRULE3(this.expression));
                });
                this.OPTION2(() => this.CONSUME2(T.Comma));
              }),
            );
            this.CONSUME(T.RBracket);
            return this.ACTION(() => ({
              kind: 'Array' as const,
              elements: elements.filter(Boolean),
              span: this.spanFrom(open),
            }));
          },
        },
        {
          ALT: () => {
            const start = this.LA(1);
            const entries = this.SUBRULE2(this.recordBody);
            return this.ACTION(() => ({ kind: 'Record' as const, entries, span: this.spanFrom(start) }));
          },
        },
        {
          ALT: () => {
            const open = this.CONSUME(T.LParen);
            const expr = this.nested(false, () => this.SUBRULE4(this.expression));
            this.CONSUME(T.RParen);
            return this.ACTION(() => ({ kind: 'Paren' as const, expr, span: this.spanFrom(open) }));
          },
        },
      ],
      ERR_MSG: 'an expression',
    }),
  );

  private recordBody = this.RULE('recordBody', (): A.RecordEntry[] => {
    const entries: A.RecordEntry[] = [];
    this.CONSUME(T.LBrace);
    this.nested(false, () =>
      this.OPTION(() => {
        entries.push(this.SUBRULE(this.recordEntry));
        this.MANY(() => {
          this.CONSUME(T.Comma);
          entries.push(this.SUBRULE2(this.recordEntry));
        });
        this.OPTION2(() => this.CONSUME2(T.Comma));
      }),
    );
    this.CONSUME(T.RBrace);
    return entries.filter(Boolean);
  });

  private recordEntry = this.RULE('recordEntry', (): A.RecordEntry => {
    const key = this.SUBRULE(this.recordKey);
    this.CONSUME(T.Colon);
    const value = this.SUBRULE(this.expression);
    return this.ACTION(() => ({ kind: 'RecordEntry' as const, key, value, span: this.spanFrom(key) }));
  });

  private ifExpr = this.RULE('ifExpr', (): A.IfExpr => {
    const kw = this.CONSUME(T.If);
    const branches: A.IfBranch<A.Block>[] = [];
    const first = this.nested(true, () => this.SUBRULE(this.expression));
    const firstBody = this.SUBRULE(this.block);
    this.ACTION(() =>
      branches.push({ kind: 'IfBranch', cond: first, body: firstBody, span: this.spanFrom(kw) }),
    );
    this.MANY(() => {
      const k = this.CONSUME(T.Else);
      this.CONSUME2(T.If);
      const cond = this.nested(true, () => this.SUBRULE2(this.expression));
      const body = this.SUBRULE2(this.block);
      this.ACTION(() => branches.push({ kind: 'IfBranch', cond, body, span: this.spanFrom(k) }));
    });
    this.CONSUME2(T.Else);
    const otherwise = this.SUBRULE3(this.block);
    return this.ACTION(() => ({ kind: 'IfExpr' as const, branches, otherwise, span: this.spanFrom(kw) }));
  });
}
