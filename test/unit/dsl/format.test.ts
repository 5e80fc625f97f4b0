import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DslFormatError,
  DslSyntaxError,
  format,
  formatDiagnostic,
  formatSource,
  parseDsl,
  parseDslOrThrow,
  type Program,
} from '../../../src/dsl/index.js';
import { program as programArb } from './ast-arbitraries.js';
import { repoPath, stripAst } from './ast-helpers.js';

const corpusDir = repoPath('examples/dsl');
const corpus = readdirSync(corpusDir).filter((f) => f.endsWith('.symbi') || f.endsWith('.dsl'));

function reparse(text: string): Program {
  const r = parseDsl(text, { file: 'formatted' });
  if (!r.program)
    assert.fail(
      `formatted output does not parse:\n${r.diagnostics.map(formatDiagnostic).join('\n')}\n---\n${text}`,
    );
  return r.program;
}

describe('DSL formatter', () => {
  for (const name of corpus) {
    test(`${name}: formatting is idempotent, keeps every comment and reparses to the same AST`, () => {
      const source = readFileSync(join(corpusDir, name), 'utf8');
      const ast = parseDslOrThrow(source);
      const once = format(ast);
      const twice = format(reparse(once));
      assert.equal(twice, once);
      assert.deepEqual(stripAst(reparse(once)), stripAst(ast));
      const comments = (text: string): string[] =>
        text
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.startsWith('//') || l.startsWith('#'));
      assert.deepEqual(comments(once), comments(source));
    });
  }

  test('comments: leading, trailing, before a closing brace and at the end of the file are kept in place', () => {
    const source = [
      '// file header',
      'agent a { // after the brace',
      '    # before capabilities',
      '    capabilities = ["read"] // trailing',
      '    with {',
      '        let x = 1; // x',
      '        // before the closing brace',
      '    }',
      '    // last in agent',
      '}',
      '// end of file',
      '',
    ].join('\n');
    const { formatted } = formatSource(source);
    assert.equal(
      formatted,
      [
        '// file header',
        'agent a {',
        '    // after the brace',
        '    # before capabilities',
        '    capabilities = ["read"] // trailing',
        '',
        '    with {',
        '        let x = 1; // x',
        '        // before the closing brace',
        '    }',
        '    // last in agent',
        '}',
        '',
        '// end of file',
        '',
      ].join('\n'),
    );
    assert.equal(formatSource(formatted).changed, false);
  });

  test('a comment inside an expression is refused rather than dropped', () => {
    assert.throws(
      () => formatSource('function f() {\n    let x = 1 + // one\n        2;\n}\n', 'c.symbi'),
      (e: unknown) =>
        e instanceof DslFormatError &&
        e.code === 'ARS_DSL_FORMAT' &&
        e.diagnostics[0]?.line === 2 &&
        /c\.symbi:2:17: comment inside an expression/.test(e.message),
    );
  });

  test('formatSource refuses a file with syntax errors', () => {
    assert.throws(
      () => formatSource('agent {'),
      (e: unknown) => e instanceof DslSyntaxError && e.diagnostics.length >= 1,
    );
  });

  test('parentheses are added where precedence needs them and typed records are protected in if-heads', () => {
    const ast = parseDslOrThrow(
      'function f() { let a = (1 + 2) * -(x => x)(3); if (T { a: 1 }).ok { } (if a { 1 } else { 2 }).b; }',
    );
    const out = format(ast);
    assert.match(out, /let a = \(1 \+ 2\) \* -\(x => x\)\(3\);/);
    assert.match(out, /if \(T \{ a: 1 \}\)\.ok \{\}/);
    assert.match(out, /\(if a \{/);
    assert.deepEqual(stripAst(reparse(out)), stripAst(ast));
  });

  test('property: generated programs format, reparse to the same AST, and format idempotently', () => {
    fc.assert(
      fc.property(programArb, (ast) => {
        const once = format(ast);
        const back = reparse(once);
        assert.deepEqual(stripAst(back), stripAst(ast));
        assert.equal(format(back), once);
      }),
      { numRuns: Number(process.env.DSL_PROPERTY_RUNS ?? 300) },
    );
  });
});
