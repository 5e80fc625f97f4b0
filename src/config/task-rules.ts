/**
 * The rules of a task (and of an agent's command and environment) as plain data, shared by the zod
 * schema in agent-config.ts and by the zod-free checker in task-check.ts, so both enforce the same
 * rules with the same messages. No imports: workflow code may load this file.
 */

/** Environment variable names: letters, digits and _, not starting with a digit. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Bounds of a task's wall-clock limit (the same as `resources.timeoutMs`). */
export const TIMEOUT_MS_BOUNDS = { min: 100, max: 86_400_000 } as const;

export const TASK_MESSAGES = {
  commandType: 'command must be an array of strings, e.g. ["node", "-e", "console.log(1)"]',
  commandEmpty: 'command is empty; give the program to run and its arguments, e.g. ["echo", "hello"]',
  argumentEmpty: 'command arguments must not be empty strings',
  envName: 'environment variable names are letters, digits and _ and do not start with a digit',
  timeoutMin: `timeoutMs must be at least ${TIMEOUT_MS_BOUNDS.min}`,
  timeoutMax: `timeoutMs must be at most ${TIMEOUT_MS_BOUNDS.max} (one day)`,
} as const;
