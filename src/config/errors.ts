import type { z } from 'zod';
import { ArsError } from '../util/errors.js';

/** One problem in an input: where (a dotted path) and what to do about it. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** An input (agent config, task, settings) failed validation; nothing was created or changed. */
export class ConfigError extends ArsError {
  readonly code = 'ARS_CONFIG_INVALID';

  constructor(
    readonly subject: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(
      `${subject} is invalid:\n${problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`).join('\n')}`,
    );
  }
}

const describe = (value: unknown): string =>
  typeof value === 'string' ? `'${value}'` : JSON.stringify(value);

/** Turns zod's issues into problems that name the field and the fix. */
export function toProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    switch (issue.code) {
      case 'unrecognized_keys':
        return {
          path,
          message: `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling`,
        };
      case 'invalid_value':
        return {
          path,
          message: `${describe(issue.input)} is not allowed; use ${issue.values.map((v) => describe(v)).join(', ')}`,
        };
      case 'invalid_key':
      case 'invalid_element':
        // A record key (or map element) failed its own schema: report that schema's message.
        return { path, message: issue.issues.map((inner) => inner.message).join('; ') || issue.message };
      default:
        return { path, message: issue.message };
    }
  });
}

/** Parses `input` with `schema`, or throws a ConfigError naming every bad field. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, subject: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) throw new ConfigError(subject, toProblems(result.error.issues));
  return result.data;
}
