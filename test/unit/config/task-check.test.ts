import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { checkTask, compileTask, ConfigError, TASK_MESSAGES, type Task } from '../../../src/config/index.js';

type Outcome = { ok: true; task: Task } | { ok: false; error: ConfigError };

function outcome(check: (input: unknown) => Task, input: unknown): Outcome {
  try {
    return { ok: true, task: check(input) };
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ARS_CONFIG_INVALID');
    assert.equal(error.subject, 'task');
    return { ok: false, error };
  }
}

/** Messages of the rules themselves (zod's own type messages are worded differently on purpose). */
const RULE_MESSAGE = (message: string) =>
  (Object.values(TASK_MESSAGES) as string[]).includes(message) || message.startsWith('unknown field');
const ruleProblems = (error: ConfigError) =>
  error.problems.filter((p) => RULE_MESSAGE(p.message)).map((p) => `${p.path}: ${p.message}`);
const paths = (error: ConfigError) => [...new Set(error.problems.map((p) => p.path))].sort();

/** checkTask and compileTask accept the same inputs with the same result, and name the same fields. */
function assertAgree(input: unknown): Outcome {
  const zod = outcome(compileTask, input);
  const plain = outcome(checkTask, input);
  if (zod.ok) {
    assert.ok(
      plain.ok,
      `checkTask rejected what compileTask accepts: ${plain.ok ? '' : plain.error.message}`,
    );
    assert.deepEqual(plain.task, zod.task);
    return plain;
  }
  assert.ok(!plain.ok, `checkTask accepted what compileTask rejects: ${zod.error.message}`);
  assert.deepEqual(paths(plain.error), paths(zod.error), `${plain.error.message}\nvs\n${zod.error.message}`);
  // The same rule messages; zod may add one more on a field whose type is already wrong (it still
  // runs `.min(1)` on a string command ''), which checkTask reports once.
  const zodRules = new Set(ruleProblems(zod.error));
  for (const problem of ruleProblems(plain.error))
    assert.ok(zodRules.has(problem), `${problem} not from zod`);
  const plainPaths = new Set(plain.error.problems.map((p) => p.path));
  for (const problem of ruleProblems(zod.error)) {
    const path = problem.slice(0, problem.indexOf(': '));
    const zodOnPath = zod.error.problems.filter((p) => p.path === path).length;
    assert.ok(
      ruleProblems(plain.error).includes(problem) || (plainPaths.has(path) && zodOnPath > 1),
      problem,
    );
  }
  // Every message names its field (or, at the top level, says what a task is).
  for (const problem of plain.error.problems)
    assert.ok(
      problem.path === '' || problem.message.includes(problem.path.split('.')[0] ?? '-'),
      `message does not name ${problem.path}: ${problem.message}`,
    );
  return plain;
}

describe('checkTask (zod-free) agrees with compileTask', () => {
  test('valid tasks: same output, defaults applied', () => {
    for (const input of [
      { command: ['ls'] },
      { command: ['sh', '-c', 'echo $A'], env: { A: '1', _b2: '' } },
      { command: ['true'], timeoutMs: 100 },
      { command: ['true'], timeoutMs: 86_400_000, env: {} },
      JSON.parse('{"command":["x"],"env":{"__proto__":"ignored","OK":"1"}}') as unknown,
    ]) {
      const result = assertAgree(input);
      assert.ok(result.ok);
    }
    assert.deepEqual(checkTask({ command: ['ls'] }), { command: ['ls'], env: {} });
  });

  test('invalid tasks: the same fields named, the same rule messages', () => {
    const cases: [unknown, RegExp][] = [
      [null, /a task is an object .* not null/],
      ['ls', /not a string/],
      [[], /not an array/],
      [{}, /command: command must be an array of strings/],
      [{ command: [] }, /command: command is empty; give the program/],
      [{ command: 'ls' }, /command: command must be an array of strings/],
      [{ command: [1, ''] }, /command\.0: command arguments are strings, but argument 0 is a number/],
      [{ command: ['a'], env: 3 }, /env: env is a number; give an object/],
      [{ command: ['a'], env: [] }, /env: env is an array/],
      [
        { command: ['a'], env: { '1a': 'x', ok: 2 } },
        /env\.1a: environment variable names .*\n.*env\.ok: .*ok is a number/,
      ],
      [{ command: ['a'], timeoutMs: 1.5 }, /timeoutMs: timeoutMs is a number \(1\.5\); give a whole number/],
      [{ command: ['a'], timeoutMs: '5' }, /timeoutMs is a string/],
      [{ command: ['a'], timeoutMs: null }, /timeoutMs is null/],
      [{ command: ['a'], timeoutMs: Number.NaN }, /timeoutMs is NaN/],
      [{ command: ['a'], timeoutMs: 1e20 }, /timeoutMs must be at most 86400000/],
      [{ command: ['a'], timeoutMs: 99 }, /timeoutMs must be at least 100/],
      [{ command: ['a'], extra: 1, zzz: 2 }, /unknown fields 'extra', 'zzz'; remove them/],
      [JSON.parse('{"command":["a"],"__proto__":{"x":1}}'), /unknown field '__proto__'/],
      [
        { zzz: 1, command: 5, env: null, timeoutMs: null },
        /command: .*\n.*env: .*\n.*timeoutMs: .*\n.*unknown field 'zzz'/,
      ],
    ];
    for (const [input, pattern] of cases) {
      const result = assertAgree(input);
      assert.ok(!result.ok, `accepted ${JSON.stringify(input)}`);
      assert.match(result.error.message, /^task is invalid:\n/);
      assert.match(result.error.message, pattern);
    }
  });

  test('property: any task-shaped or JSON input gets the same verdict from both', () => {
    const envName = fc.oneof(
      fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,8}$/),
      fc.string({ maxLength: 6 }),
      fc.constantFrom('1A', '', 'A-B', 'a b', 'constructor', 'toString'),
    );
    const scalar = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.constant(null));
    const missing = fc.constant(undefined);
    const command = fc.oneof(
      fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 5 }), fc.constant(''), scalar), {
        maxLength: 4,
      }),
      fc.array(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      scalar,
      missing,
    );
    const env = fc.oneof(
      fc.dictionary(envName, fc.oneof(fc.string({ maxLength: 5 }), scalar), { maxKeys: 4 }),
      fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
      fc.array(fc.string(), { maxLength: 2 }),
      scalar,
      missing,
    );
    const timeoutMs = fc.oneof(
      fc.integer({ min: 100, max: 86_400_000 }),
      fc.integer(),
      fc.double(),
      fc.constantFrom(99, 100, 86_400_000, 86_400_001, 1e20, -0),
      scalar,
      missing,
    );
    const extra = fc.dictionary(fc.constantFrom('extra', 'cmd', 'timeout', 'command ', 'Env'), scalar, {
      maxKeys: 2,
    });
    const task = fc
      .record({ command, env, timeoutMs, extra }, { requiredKeys: [] })
      .map(({ extra: more, ...fields }) => ({ ...fields, ...more }));
    fc.assert(
      fc.property(fc.oneof({ arbitrary: task, weight: 5 }, fc.jsonValue({ maxDepth: 3 })), (input) => {
        assertAgree(input);
      }),
      { numRuns: 3000 },
    );
  });

  test('JSON-decoded tasks (what the workflow receives) get the same verdict', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 3 }),
        fc.array(fc.string({ minLength: 1 }), { maxLength: 3 }),
        (value, cmd) => {
          assertAgree(JSON.parse(JSON.stringify({ command: cmd, env: value })) as unknown);
          assertAgree(JSON.parse(JSON.stringify({ command: cmd, timeoutMs: value })) as unknown);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
