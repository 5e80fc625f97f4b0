/** fast-check generators of DSL programs (ASTs with dummy positions), for the formatter round trip. */
import fc from 'fast-check';
import { PRECEDENCE } from '../../../src/dsl/index.js';
import type * as A from '../../../src/dsl/index.js';

const P = { line: 1, column: 1, offset: 0 };
const S: A.Span = { start: P, end: P };

const NAMES = [
  'a',
  'b',
  'x',
  'doc',
  'file',
  'Foo',
  '_x',
  'v1',
  'type',
  'memory',
  'policy',
  'agent',
  'with',
  'search',
  'allow',
];
const PLAIN = ['a', 'b', 'x', 'doc', 'Foo', 'v1', 'name_2'];

export const ident = (pool = NAMES): fc.Arbitrary<A.Identifier> =>
  fc.constantFrom(...pool).map((name) => ({ kind: 'Identifier' as const, name, span: S }));

const str: fc.Arbitrary<A.StringLiteral> = fc
  .oneof(fc.string({ maxLength: 8 }), fc.constantFrom('a "q" \\ b', 'line\nbreak\t', '', 'vault://no'))
  .map((value) => ({ kind: 'String' as const, value, span: S }));
const num: fc.Arbitrary<A.NumberLiteral> = fc
  .oneof(
    fc.nat(100_000).map((n) => String(n)),
    fc.constantFrom('1_000', '300_000', '1.5', '0.25', '10.0'),
  )
  .map((raw) => ({ kind: 'Number' as const, raw, value: Number(raw.replaceAll('_', '')), span: S }));
const DURATIONS: [string, string, number][] = [
  ['30s', 's', 30_000],
  ['5m', 'm', 300_000],
  ['2h', 'h', 7_200_000],
  ['7d', 'd', 604_800_000],
  ['1w', 'w', 604_800_000],
  ['3months', 'months', 7_776_000_000],
  ['1y', 'y', 31_536_000_000],
  ['250ms', 'ms', 250],
  ['60.seconds', '.seconds', 60_000],
  ['5.minutes', '.minutes', 300_000],
  ['2.hours', '.hours', 7_200_000],
];
const duration: fc.Arbitrary<A.DurationLiteral> = fc.constantFrom(...DURATIONS).map(([raw, unit, ms]) => ({
  kind: 'Duration' as const,
  raw,
  unit,
  ms,
  amount: Number(raw.replace(/[^0-9]/g, '')),
  span: S,
}));
const bool: fc.Arbitrary<A.BooleanLiteral> = fc
  .boolean()
  .map((value) => ({ kind: 'Boolean' as const, value, span: S }));
const vault: fc.Arbitrary<A.VaultRef> = fc
  .constantFrom('a/b', 'secrets/x-y_z.v1', 'k')
  .map((path) => ({ kind: 'Vault' as const, path, span: S }));

export const value: fc.Arbitrary<A.ValueNode> = fc.oneof(str, num, duration, bool, ident());

const typeRef: fc.Arbitrary<A.TypeRef> = fc.letrec<{ t: A.TypeRef }>((tie) => ({
  t: fc.record({
    kind: fc.constant('TypeRef' as const),
    name: ident(['String', 'int', 'float', 'bool', 'Summary', 'List', 'Map']),
    args: fc.oneof(
      { maxDepth: 2 },
      fc.constant<A.TypeRef[]>([]),
      fc.array(tie('t'), { minLength: 1, maxLength: 2 }),
    ),
    span: fc.constant(S),
  }),
})).t;

const BINARY = Object.keys(PRECEDENCE) as A.BinaryOperator[];
const ASSIGN: A.AssignOperator[] = ['=', '+=', '-=', '*=', '/=', '%='];

const pattern: fc.Arbitrary<A.Pattern> = fc.oneof(
  fc.oneof(str, num, bool).map((v) => ({ kind: 'LiteralPattern' as const, value: v, span: S })),
  fc.constant({ kind: 'WildcardPattern' as const, span: S }),
  ident(PLAIN).map((name) => ({ kind: 'BindingPattern' as const, name, span: S })),
);

interface Rec {
  expr: A.Expr;
  block: A.Block;
  stmt: A.Statement;
}

type Arbs = { [K in keyof Rec]: fc.Arbitrary<Rec[K]> };

const built = fc.letrec((tie) => {
  const expr = tie('expr') as fc.Arbitrary<A.Expr>;
  const block = tie('block') as fc.Arbitrary<A.Block>;
  const entry = fc.record({
    kind: fc.constant('RecordEntry' as const),
    key: fc.oneof(ident(), str),
    value: expr,
    span: fc.constant(S),
  });
  const branch = fc.record({
    kind: fc.constant('IfBranch' as const),
    cond: expr,
    body: block,
    span: fc.constant(S),
  });
  return {
    expr: fc.oneof(
      { maxDepth: 3, depthIdentifier: 'expr' },
      fc.oneof(str, num, duration, bool, ident(), vault),
      fc.record({
        kind: fc.constant('Binary' as const),
        op: fc.constantFrom(...BINARY),
        left: expr,
        right: expr,
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Unary' as const),
        op: fc.constantFrom<A.UnaryOperator>('!', 'not', '-'),
        operand: expr,
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Member' as const),
        object: expr,
        property: ident(),
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Call' as const),
        callee: expr,
        args: fc.array(
          fc.oneof(
            expr.map((v) => ({ kind: 'CallArg' as const, value: v, span: S })),
            fc.record({
              kind: fc.constant('CallArg' as const),
              name: ident(),
              sep: fc.constantFrom<':' | '='>(':', '='),
              value: expr,
              span: fc.constant(S),
            }),
          ),
          { maxLength: 3 },
        ),
        span: fc.constant(S),
      }),
      fc.record({ kind: fc.constant('Index' as const), object: expr, index: expr, span: fc.constant(S) }),
      fc.record({
        kind: fc.constant('Lambda' as const),
        param: ident(PLAIN),
        body: expr,
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('IfExpr' as const),
        branches: fc.array(branch, { minLength: 1, maxLength: 2 }),
        otherwise: block,
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Array' as const),
        elements: fc.array(expr, { maxLength: 3 }),
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Record' as const),
        entries: fc.array(entry, { maxLength: 3 }),
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('TypedRecord' as const),
        typeName: ident(['Foo', 'Summary']),
        entries: fc.array(entry, { maxLength: 2 }),
        span: fc.constant(S),
      }),
    ),
    block: fc
      .record({
        statements: fc.array(tie('stmt') as fc.Arbitrary<A.Statement>, { maxLength: 3 }),
        tail: fc.option(expr, { nil: undefined }),
      })
      .map(({ statements, tail }) => ({
        kind: 'Block' as const,
        statements,
        ...(tail ? { tail } : {}),
        span: S,
      })),
    stmt: fc.oneof(
      { maxDepth: 2, depthIdentifier: 'stmt' },
      fc.record({ kind: fc.constant('Let' as const), name: ident(), value: expr, span: fc.constant(S) }),
      fc.record({ kind: fc.constant('ExprStmt' as const), expr, span: fc.constant(S) }),
      fc.record({
        kind: fc.constant('Assign' as const),
        target: fc.oneof(
          ident(),
          fc.record({
            kind: fc.constant('Member' as const),
            object: ident(),
            property: ident(),
            span: fc.constant(S),
          }),
        ),
        op: fc.constantFrom(...ASSIGN),
        value: expr,
        span: fc.constant(S),
      }),
      fc
        .option(expr, { nil: undefined })
        .map((v) => ({ kind: 'Return' as const, ...(v ? { value: v } : {}), span: S })),
      fc
        .record({
          branches: fc.array(
            fc
              .record({ pattern: fc.option(pattern, { nil: undefined }), cond: expr, body: block })
              .map(({ pattern: p, cond, body }) => ({
                kind: 'IfBranch' as const,
                ...(p ? { pattern: p } : {}),
                cond,
                body,
                span: S,
              })),
            { minLength: 1, maxLength: 3 },
          ),
          otherwise: fc.option(block, { nil: undefined }),
        })
        .map(({ branches, otherwise }) => ({
          kind: 'If' as const,
          branches,
          ...(otherwise ? { otherwise } : {}),
          span: S,
        })),
      fc.record({
        kind: fc.constant('For' as const),
        binding: ident(),
        iterable: expr,
        body: block,
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Match' as const),
        subject: expr,
        arms: fc.array(
          fc.record({
            kind: fc.constant('MatchArm' as const),
            pattern,
            body: fc.oneof(expr, block),
            span: fc.constant(S),
          }),
          { maxLength: 3 },
        ),
        span: fc.constant(S),
      }),
      fc.record({
        kind: fc.constant('Try' as const),
        body: block,
        catches: fc.array(
          fc.record({
            kind: fc.constant('Catch' as const),
            names: fc.array(ident(), { minLength: 1, maxLength: 2 }),
            body: block,
            span: fc.constant(S),
          }),
          { maxLength: 2 },
        ),
        span: fc.constant(S),
      }),
    ),
  };
}) as unknown as Arbs;

export const expr = built.expr;
export const block = built.block;

const constValue: fc.Arbitrary<A.Expr> = fc.letrec<{ c: A.Expr }>((tie) => ({
  c: fc.oneof(
    { maxDepth: 2 },
    fc.oneof(value, vault),
    fc.record({
      kind: fc.constant('Array' as const),
      elements: fc.array(tie('c'), { maxLength: 3 }),
      span: fc.constant(S),
    }),
    fc.record({
      kind: fc.constant('Record' as const),
      entries: fc.array(
        fc.record({
          kind: fc.constant('RecordEntry' as const),
          key: fc.oneof(ident(), str),
          value: tie('c'),
          span: fc.constant(S),
        }),
        {
          maxLength: 2,
        },
      ),
      span: fc.constant(S),
    }),
  ),
})).c;

const entryOf = (sep: fc.Arbitrary<'=' | ':' | ' '>, v: fc.Arbitrary<A.Expr>): fc.Arbitrary<A.Entry> =>
  fc.record({ kind: fc.constant('Entry' as const), key: ident(PLAIN), sep, value: v, span: fc.constant(S) });
const eqColon = fc.constantFrom<'=' | ':'>('=', ':');
const param = fc.record({
  kind: fc.constant('Param' as const),
  name: ident(),
  type: typeRef,
  span: fc.constant(S),
});

const policy: fc.Arbitrary<A.PolicyDef> = fc.record({
  kind: fc.constant('Policy' as const),
  name: ident(PLAIN),
  rules: fc.array(
    fc
      .record({
        ruleKind: fc.constantFrom<A.RuleKind>('allow', 'deny', 'require', 'audit'),
        expr,
        condition: fc.option(expr, { nil: undefined }),
      })
      .map(({ ruleKind, expr: e, condition }) => ({
        kind: 'Rule' as const,
        ruleKind,
        expr: e,
        ...(condition ? { condition } : {}),
        span: S,
      })),
    { maxLength: 3 },
  ),
  span: fc.constant(S),
});

const fn: fc.Arbitrary<A.FunctionDef> = fc
  .record({
    name: ident(),
    params: fc.array(param, { maxLength: 2 }),
    returnType: fc.option(typeRef, { nil: undefined }),
    body: block,
  })
  .map(({ name, params, returnType, body }) => ({
    kind: 'Function' as const,
    name,
    params,
    ...(returnType ? { returnType } : {}),
    body,
    span: S,
  }));

const agentItem: fc.Arbitrary<A.AgentItem> = fc.oneof(
  fc.record({
    kind: fc.constant('Capabilities' as const),
    sep: eqColon,
    list: fc
      .array(fc.oneof(str, ident()), { maxLength: 3 })
      .map((elements) => ({ kind: 'Array' as const, elements, span: S })),
    span: fc.constant(S),
  }),
  policy,
  fn,
  fc.record({
    kind: fc.constant('With' as const),
    attributes: fc.array(entryOf(fc.constant('=' as const), constValue), { maxLength: 3 }),
    body: block,
    span: fc.constant(S),
  }),
);

const subBlock = (keyword: 'search' | 'filter'): fc.Arbitrary<A.SubBlock> =>
  fc.record({
    kind: fc.constant('SubBlock' as const),
    keyword: fc.constant(keyword),
    entries: fc.array(entryOf(fc.constant(' ' as const), value), { maxLength: 2 }),
    span: fc.constant(S),
  });

export const topItem: fc.Arbitrary<A.TopItem> = fc.oneof(
  fc.record({
    kind: fc.constant('Metadata' as const),
    entries: fc.array(entryOf(eqColon, constValue), { maxLength: 3 }),
    span: fc.constant(S),
  }),
  fc
    .record({
      name: ident(),
      params: fc.option(fc.array(param, { maxLength: 2 }), { nil: undefined }),
      returnType: fc.option(typeRef, { nil: undefined }),
      items: fc.array(agentItem, { maxLength: 3 }),
    })
    .map(({ name, params, returnType, items }) => ({
      kind: 'Agent' as const,
      name,
      ...(params ? { params } : {}),
      ...(returnType ? { returnType } : {}),
      items,
      span: S,
    })),
  policy,
  fc.record({
    kind: fc.constant('TypeDef' as const),
    name: ident(),
    body: fc.oneof(
      typeRef,
      fc.record({
        kind: fc.constant('Struct' as const),
        fields: fc.array(
          fc.record({
            kind: fc.constant('Field' as const),
            name: ident(),
            type: typeRef,
            span: fc.constant(S),
          }),
          { maxLength: 3 },
        ),
        span: fc.constant(S),
      }),
    ),
    span: fc.constant(S),
  }),
  fn,
  fc.record({
    kind: fc.constant('Schedule' as const),
    name: ident(),
    entries: fc.array(entryOf(eqColon, value), { maxLength: 3 }),
    span: fc.constant(S),
  }),
  fc.record({
    kind: fc.constant('Channel' as const),
    name: ident(),
    members: fc.array(
      fc.oneof(
        entryOf(
          eqColon,
          fc.oneof(
            value,
            fc
              .array(value, { maxLength: 2 })
              .map((elements) => ({ kind: 'Array' as const, elements, span: S })),
          ),
        ),
        policy,
        fc.record({
          kind: fc.constant('DataClassification' as const),
          entries: fc.array(
            fc.record({
              kind: fc.constant('Classification' as const),
              key: ident(),
              value: ident(),
              span: fc.constant(S),
            }),
            { maxLength: 2 },
          ),
          span: fc.constant(S),
        }),
      ),
      { maxLength: 3 },
    ),
    span: fc.constant(S),
  }),
  fc.record({
    kind: fc.constant('Memory' as const),
    name: ident(),
    members: fc.array(fc.oneof(entryOf(fc.constant(' ' as const), value), subBlock('search')), {
      maxLength: 3,
    }),
    span: fc.constant(S),
  }),
  fc.record({
    kind: fc.constant('Webhook' as const),
    name: ident(),
    members: fc.array(fc.oneof(entryOf(fc.constant(' ' as const), value), subBlock('filter')), {
      maxLength: 3,
    }),
    span: fc.constant(S),
  }),
);

export const program: fc.Arbitrary<A.Program> = fc
  .array(topItem, { minLength: 1, maxLength: 4 })
  .map((items) => ({ kind: 'Program' as const, items, span: S }));
