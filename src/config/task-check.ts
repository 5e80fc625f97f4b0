/**
 * A zod-free twin of `compileTask` for workflow code. Every agent workflow evaluates the workflow
 * bundle's modules afresh, and zod alone made up ~45% of that bundle; this checker enforces the same
 * rules (task-rules.ts, shared with the zod schema) and throws the same ConfigError naming every bad
 * field. test/unit/config/task-check.test.ts checks that the two agree.
 */
import type { Task } from './agent-config.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { ENV_NAME, TASK_MESSAGES, TIMEOUT_MS_BOUNDS } from './task-rules.js';

const TASK_FIELDS: ReadonlySet<string> = new Set(['command', 'env', 'timeoutMs']);

/** What a value is, for messages: 'null', 'an array', 'a number', ... */
function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  const type = typeof value;
  return type === 'undefined' ? 'missing' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object literal (or JSON object), not a Date, Map or class instance. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (!isObject(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  // The last test accepts plain objects of another realm (their Object.prototype has no prototype).
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

function checkCommand(value: unknown, problems: ConfigProblem[]): string[] {
  if (!Array.isArray(value)) {
    problems.push({ path: 'command', message: TASK_MESSAGES.commandType });
    return [];
  }
  if (value.length === 0) problems.push({ path: 'command', message: TASK_MESSAGES.commandEmpty });
  value.forEach((arg: unknown, i) => {
    if (typeof arg !== 'string')
      problems.push({
        path: `command.${i}`,
        message: `command arguments are strings, but argument ${i} is ${kind(arg)}`,
      });
    else if (arg.length === 0) problems.push({ path: `command.${i}`, message: TASK_MESSAGES.argumentEmpty });
  });
  return value as string[];
}

function checkEnv(value: unknown, problems: ConfigProblem[]): Record<string, string> {
  const env: Record<string, string> = {};
  if (value === undefined) return env;
  if (!isPlainObject(value)) {
    problems.push({
      path: 'env',
      message: `env is ${kind(value)}; give an object of variable names to string values, e.g. {"LEVEL": "debug"}`,
    });
    return env;
  }
  for (const name of Object.keys(value)) {
    // Like zod: an own "__proto__" key (JSON.parse makes one) is neither checked nor copied.
    if (name === '__proto__') continue;
    const entry = value[name];
    if (!ENV_NAME.test(name)) problems.push({ path: `env.${name}`, message: TASK_MESSAGES.envName });
    else if (typeof entry !== 'string')
      problems.push({
        path: `env.${name}`,
        message: `environment variable values are strings, but ${name} is ${kind(entry)}; quote it`,
      });
    else env[name] = entry;
  }
  return env;
}

function checkTimeout(value: unknown, problems: ConfigProblem[]): void {
  const { min, max } = TIMEOUT_MS_BOUNDS;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    problems.push({
      path: 'timeoutMs',
      message: `timeoutMs is ${kind(value)}${typeof value === 'number' && Number.isFinite(value) ? ` (${value})` : ''}; give a whole number of milliseconds from ${min} to ${max}`,
    });
  } else if (value < min) problems.push({ path: 'timeoutMs', message: TASK_MESSAGES.timeoutMin });
  else if (value > max) problems.push({ path: 'timeoutMs', message: TASK_MESSAGES.timeoutMax });
}

/**
 * Validates a task and applies its defaults, without zod: the rules and the ConfigError of
 * `compileTask` (same fields named, the same messages for each rule). For workflow code.
 */
export function checkTask(input: unknown): Task {
  if (!isObject(input)) {
    throw new ConfigError('task', [
      {
        path: '',
        message: `a task is an object such as {"command": ["echo", "hello"]}, not ${kind(input)}`,
      },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const command = checkCommand(input.command, problems);
  const env = checkEnv(input.env, problems);
  const timeoutMs = input.timeoutMs;
  if (timeoutMs !== undefined) checkTimeout(timeoutMs, problems);
  const unknown: string[] = [];
  for (const key in input) if (!TASK_FIELDS.has(key)) unknown.push(key);
  if (unknown.length > 0) {
    problems.push({
      path: '',
      message: `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; remove ${unknown.length > 1 ? 'them' : 'it'} or check the spelling`,
    });
  }
  if (problems.length > 0) throw new ConfigError('task', problems);
  return {
    command: [...command],
    env,
    ...(timeoutMs !== undefined || 'timeoutMs' in input
      ? { timeoutMs: timeoutMs as number | undefined }
      : {}),
  };
}
