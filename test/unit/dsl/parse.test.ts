import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DslSyntaxError,
  MAX_NESTING_DEPTH,
  PRECEDENCE,
  formatDiagnostic,
  parseDsl,
  parseDslOrThrow,
  type Diagnostic,
  type Program,
} from '../../../src/dsl/index.js';
import { allNodes, repoPath } from './ast-helpers.js';

const corpusDir = repoPath('examples/dsl');
const corpus = readdirSync(corpusDir).filter((f) => f.endsWith('.symbi') || f.endsWith('.dsl'));

const errorsOf = (source: string, file = 'bad.symbi'): string[] => {
  const r = parseDsl(source, { file });
  assert.equal(r.program, undefined, 'a file with errors yields no AST');
  return r.diagnostics.map(formatDiagnostic);
};

describe('DSL parser: corpus', () => {
  test('the corpus has files', () => assert.ok(corpus.length >= 3, `corpus: ${corpus.join(', ')}`));

  for (const name of corpus) {
    test(`${name} parses, and every node has a position that points at its text`, () => {
      const source = readFileSync(join(corpusDir, name), 'utf8');
      const result = parseDsl(source, { file: name });
      assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
      const program = result.program as Program;
      assert.ok(program.items.length > 0);
      for (const node of allNodes(program)) {
        const span = node['span'] as {
          start: { line: number; column: number; offset: number };
          end: { offset: number };
        };
        assert.ok(span, `${String(node['kind'])} has a span`);
        assert.ok(
          span.start.line >= 1 && span.start.column >= 1 && span.end.offset > span.start.offset,
          `${String(node['kind'])} span is sane`,
        );
        if (node['kind'] === 'Identifier')
          assert.equal(source.slice(span.start.offset, span.end.offset), node['name']);
        // line/column agree with the offset
        const before = source.slice(0, span.start.offset).split('\n');
        assert.equal(before.length, span.start.line);
        assert.equal((before.at(-1) as string).length + 1, span.start.column);
      }
    });
  }

  test('all-constructs.symbi contains every construct of the language', () => {
    const source = readFileSync(join(corpusDir, 'all-constructs.symbi'), 'utf8');
    const kinds = new Set(allNodes(parseDslOrThrow(source)).map((n) => n['kind']));
    const expected = [
      'Metadata',
      'Agent',
      'Policy',
      'TypeDef',
      'Function',
      'Schedule',
      'Channel',
      'Memory',
      'Webhook',
      'Capabilities',
      'With',
      'Rule',
      'DataClassification',
      'SubBlock',
      'Entry',
      'Param',
      'TypeRef',
      'Field',
      'Let',
      'If',
      'IfBranch',
      'For',
      'Match',
      'MatchArm',
      'Try',
      'Catch',
      'Return',
      'Assign',
      'ExprStmt',
      'Binary',
      'Unary',
      'Member',
      'Call',
      'CallArg',
      'Index',
      'Lambda',
      'IfExpr',
      'Array',
      'Record',
      'RecordEntry',
      'TypedRecord',
      'Paren',
      'String',
      'Number',
      'Duration',
      'Boolean',
      'Identifier',
      'Vault',
      'LiteralPattern',
      'WildcardPattern',
      'BindingPattern',
      'Block',
    ];
    assert.deepEqual(
      expected.filter((k) => !kinds.has(k)),
      [],
    );
    const program = parseDslOrThrow(source);
    const ops = new Set(
      allNodes(program)
        .filter((n) => n['kind'] === 'Binary' || n['kind'] === 'Unary' || n['kind'] === 'Assign')
        .map((n) => n['op']),
    );
    for (const op of [...Object.keys(PRECEDENCE), '!', 'not', '=', '+=', '-=', '*=', '/=', '%=']) {
      assert.ok(ops.has(op), `operator ${op} is used`);
    }
    const units = new Set(
      allNodes(program)
        .filter((n) => n['kind'] === 'Duration')
        .map((n) => n['unit']),
    );
    for (const u of ['s', 'm', 'h', 'd', 'w', 'months', 'y', 'ms', '.seconds', '.minutes', '.hours'])
      assert.ok(units.has(u), `unit ${u}`);
  });
});

describe('DSL parser: values', () => {
  test('durations, numbers, strings and vault references decode', () => {
    const p = parseDslOrThrow(
      'function f() { let a = [30s, 5.minutes, 3months, 1y, 250ms, 1_000, 2.5, "a \\"b\\" \\\\ c\\n", vault://x/y-z_1.v2]; }',
    );
    const nodes = allNodes(p);
    const ms = nodes.filter((n) => n['kind'] === 'Duration').map((n) => n['ms']);
    assert.deepEqual(ms, [30_000, 300_000, 3 * 30 * 86_400_000, 365 * 86_400_000, 250]);
    assert.deepEqual(
      nodes.filter((n) => n['kind'] === 'Number').map((n) => n['value']),
      [1000, 2.5],
    );
    assert.deepEqual(
      nodes.filter((n) => n['kind'] === 'String').map((n) => n['value']),
      ['a "b" \\ c\n'],
    );
    assert.deepEqual(
      nodes.filter((n) => n['kind'] === 'Vault').map((n) => n['path']),
      ['x/y-z_1.v2'],
    );
  });

  test('contextual keywords are still names; typed records are not taken in if-heads', () => {
    const p = parseDslOrThrow(
      'function type(memory: policy) { let agent = x.type; if ready { go(); } let s = Summary { type: 1 }; }',
    );
    const kinds = allNodes(p).map((n) => n['kind']);
    assert.ok(kinds.includes('If') && kinds.includes('TypedRecord'));
  });
});

describe('DSL parser: malformed input gives precise errors', () => {
  test('unclosed brace', () => {
    assert.deepEqual(errorsOf('agent a {\n    with sandbox = "docker" {\n        let x = 1;\n    }\n'), [
      "bad.symbi:4:6: found end of file, expected '}' to close the '{' opened at 1:9",
    ]);
  });

  test('unknown keyword where a rule kind is expected (two of them, both reported)', () => {
    assert.deepEqual(errorsOf('policy p {\n    permit: read\n    allow: write\n    forbid: x if y\n}\n'), [
      "bad.symbi:2:5: found 'permit', expected a rule kind: 'allow', 'deny', 'require' or 'audit'",
      "bad.symbi:4:5: found 'forbid', expected a rule kind: 'allow', 'deny', 'require' or 'audit'",
    ]);
  });

  test('bad durations', () => {
    assert.deepEqual(errorsOf('agent a {\n    with timeout = 5x {\n        let y = 10.secs;\n    }\n}\n'), [
      "bad.symbi:2:20: found '5x', expected a duration such as 30s, 5m, 2h, 7d, 1w, 3months, 1y, 250ms or 60.seconds",
      "bad.symbi:3:17: found '10.secs', expected a duration such as 30s, 5m, 2h, 7d, 1w, 3months, 1y, 250ms or 60.seconds",
    ]);
  });

  test('unterminated string', () => {
    const errors = errorsOf('metadata {\n    name = "abc\n}\n');
    assert.equal(
      errors[0],
      `bad.symbi:2:12: found an unterminated string, expected a closing '"' before the end of the file`,
    );
  });

  test('missing type after ->', () => {
    assert.deepEqual(errorsOf('function f(x: int) -> {\n    return x;\n}\n'), [
      "bad.symbi:1:23: found '{', expected a type (e.g. String, int or a type name)",
    ]);
    assert.deepEqual(errorsOf('agent a(x: int) -> {\n}\n'), [
      "bad.symbi:1:20: found '{', expected a type (e.g. String, int or a type name)",
    ]);
  });

  test('several errors in one file are all reported', () => {
    const errors = errorsOf(
      'agent a {\n    with x = 1 {\n        let a = 1\n        let b = (1 + ;\n        foo(1, 2;\n        return 5;\n    }\n}\nagnet b {}\n',
    );
    assert.deepEqual(errors, [
      "bad.symbi:4:9: found 'let', expected ';'",
      "bad.symbi:4:22: found ';', expected an expression",
      "bad.symbi:5:17: found ';', expected ')'",
      "bad.symbi:9:1: found 'agnet', expected a top-level item: 'metadata', 'agent', 'policy', 'type', 'function', 'schedule', 'channel', 'memory' or 'webhook'",
    ]);
  });

  test('an assignment to something that is not a name, field or index', () => {
    assert.deepEqual(errorsOf('function f() {\n    f() = 1;\n}\n'), [
      "bad.symbi:2:9: found '=' after an expression that cannot be assigned to, expected a name, a field (a.b) or an index (a[i]) before it",
    ]);
  });

  test('parseDslOrThrow throws DslSyntaxError with the diagnostics', () => {
    assert.throws(
      () => parseDslOrThrow('agent {}', { file: 'x.symbi' }),
      (e: unknown) =>
        e instanceof DslSyntaxError &&
        e.code === 'ARS_DSL_SYNTAX' &&
        e.diagnostics.length === 1 &&
        e.message.includes("x.symbi:1:7: found '{', expected a name"),
    );
  });
});

describe('DSL parser: nesting depth', () => {
  const N = 10_000;
  const cases: Record<string, string> = {
    parentheses: `function f() { let x = ${'('.repeat(N)}1${')'.repeat(N)}; }`,
    blocks: `function f() { ${'if x {'.repeat(N)}${'}'.repeat(N)} }`,
    arrays: `function f() { let x = ${'['.repeat(N)}${']'.repeat(N)}; }`,
    records: `function f() { let x = ${'{ a: '.repeat(N)}1${' }'.repeat(N)}; }`,
    'prefix operators': `function f() { let x = ${'!'.repeat(N)}a; }`,
    lambdas: `function f() { let x = ${'a => '.repeat(N)}a; }`,
    'unclosed parentheses': `function f() { let x = ${'('.repeat(N)}`,
  };
  for (const [name, source] of Object.entries(cases)) {
    test(`${N} levels of ${name} are refused with a located error, without crashing`, () => {
      const r = parseDsl(source, { file: 'deep.symbi' });
      assert.equal(r.program, undefined);
      assert.equal(r.diagnostics.length, 1);
      const d = r.diagnostics[0] as Diagnostic;
      assert.equal(d.line, 1);
      assert.match(
        d.message,
        new RegExp(
          `nested ${MAX_NESTING_DEPTH + 1} levels deep, expected at most ${MAX_NESTING_DEPTH} levels of nesting`,
        ),
      );
      assert.equal(source[d.offset], source.slice(d.offset, d.offset + 1)); // points into the source
    });
  }

  test(`nesting up to the limit (${MAX_NESTING_DEPTH}) parses`, () => {
    const depth = MAX_NESTING_DEPTH - 4; // the function body and let use a few levels
    const r = parseDsl(`function f() { let x = ${'('.repeat(depth)}1${')'.repeat(depth)}; }`);
    assert.deepEqual(r.diagnostics, []);
  });

  test('a deep chain of generics (not counted by the guard) fails cleanly, not with a crash', () => {
    const r = parseDsl(`type T = ${'List<'.repeat(N)}int${'>'.repeat(N)}`);
    assert.equal(r.program, undefined);
    assert.match(r.diagnostics[0]?.message ?? '', /nested too deeply/);
  });
});

describe('DSL parser: robustness', () => {
  const FRAGMENTS = [
    'agent',
    'a',
    'policy',
    'p',
    '{',
    '}',
    '(',
    ')',
    '[',
    ']',
    ':',
    '=',
    ',',
    ';',
    'allow',
    'deny',
    'if',
    'else',
    'let',
    'with',
    'capabilities',
    'match',
    '=>',
    '->',
    'x.y',
    '1',
    '30s',
    '5x',
    '"s"',
    '"open',
    'vault://a',
    'true',
    'not',
    '+',
    '*',
    '==',
    '&&',
    'function',
    'f',
    'schedule',
    'memory',
    'search',
    'catch',
    'try',
    'return',
    '// c\n',
    '\n',
    'Foo',
  ];
  test('property: any sequence of tokens gives an AST or located diagnostics, never an exception', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }), (parts) => {
        const source = parts.join(' ');
        const r = parseDsl(source, { file: 'fuzz' });
        assert.ok(r.program !== undefined || r.diagnostics.length > 0);
        for (const d of r.diagnostics) {
          assert.ok(
            Number.isInteger(d.line) && d.line >= 1 && Number.isInteger(d.column) && d.column >= 1,
            formatDiagnostic(d),
          );
          assert.match(d.message, /found .*expected|nested/);
        }
      }),
      { numRuns: Number(process.env.DSL_PROPERTY_RUNS ?? 500) },
    );
  });

  test('property: arbitrary text never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (source) => {
        const r = parseDsl(source);
        assert.ok(r.program !== undefined || r.diagnostics.length > 0);
      }),
      { numRuns: 300 },
    );
  });
});
