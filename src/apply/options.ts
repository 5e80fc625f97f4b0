/**
 * Options of `applyFile`: the deploy-time binding of the agents (image, command, env), dry run, the
 * host that runs the sandboxes and the Cedar schema the file's policies are checked against.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseOrThrow } from '../config/index.js';
import { findPoliciesRoot } from '../policy/index.js';
import { silentLogger, type Logger } from '../util/logger.js';

/** Defaults of `applyFile`. */
export const DEFAULT_APPLY_OPTIONS = {
  /** Check everything (compile, policy load, creation hook) and report the plan, but deploy nothing. @default false */
  dryRun: false,
  /**
   * Also start now the agents that a `schedule` block names. By default such an agent is started only
   * by its schedule. @default false
   */
  startScheduled: false,
} as const;

const optionsSchema = z.strictObject({
  /** Container image for every agent of the file (wins over the definition's `image`). */
  image: z.string().min(1, 'image must be an image reference such as ars-sandbox:local').optional(),
  /** Program and arguments for every agent of the file (wins over the definition's `command`). */
  command: z.array(z.string()).min(1, 'command must name a program, e.g. ["node", "agent.js"]').optional(),
  /** Extra environment variables for every agent of the file. */
  env: z.record(z.string(), z.string()).optional(),
  dryRun: z.boolean().default(DEFAULT_APPLY_OPTIONS.dryRun),
  startScheduled: z.boolean().default(DEFAULT_APPLY_OPTIONS.startScheduled),
  /** Host whose worker runs the sandboxes. @default the settings' hostId */
  hostId: z.string().min(1, 'hostId must be a host id').optional(),
  /** Cedar schema the file's policies are validated against. @default `<project>/policies/ars.cedarschema` */
  schemaPath: z.string().min(1, 'schemaPath must be a file path').optional(),
  /** @default silentLogger */
  logger: z
    .custom<Logger>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Logger).info === 'function',
      'logger must be a pino Logger',
    )
    .optional(),
});

export type ApplyOptionsInput = z.input<typeof optionsSchema>;

export interface ApplyOptions {
  readonly image: string | undefined;
  readonly command: readonly string[] | undefined;
  readonly env: Readonly<Record<string, string>> | undefined;
  readonly dryRun: boolean;
  readonly startScheduled: boolean;
  readonly hostId: string | undefined;
  readonly schemaPath: string;
  readonly logger: Logger;
}

/** Validates the options of `applyFile` (ConfigError naming the field) and applies the defaults. */
export function compileApplyOptions(input: ApplyOptionsInput = {}): ApplyOptions {
  const parsed = parseOrThrow(optionsSchema, input, 'apply options');
  const root = findPoliciesRoot();
  const schemaPath = parsed.schemaPath ?? (root ? join(root, 'ars.cedarschema') : undefined);
  if (schemaPath === undefined) {
    throw new ConfigError('apply options', [
      {
        path: 'schemaPath',
        message:
          'no schemaPath given and the shipped policies/ars.cedarschema was not found; pass schemaPath',
      },
    ]);
  }
  return {
    image: parsed.image,
    command: parsed.command,
    env: parsed.env,
    dryRun: parsed.dryRun,
    startScheduled: parsed.startScheduled,
    hostId: parsed.hostId,
    schemaPath,
    logger: parsed.logger ?? silentLogger,
  };
}
