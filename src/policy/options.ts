import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, parseOrThrow } from '../config/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { findPoliciesRoot, type PolicySource } from './loader.js';

/** Defaults of the policy engine. */
export const DEFAULT_POLICY_ENGINE_OPTIONS = {
  /** Maximum number of cached decisions (least recently used are evicted); 0 disables the cache. @default 10_000 */
  cacheSize: 10_000,
  /**
   * The request time given to policies is rounded down to this many ms, so that repeated requests
   * hit the cache. @default 60_000 (one minute)
   */
  timeGranularityMs: 60_000,
  /** Reload automatically when a file under the policy directory or the schema changes. @default false */
  watch: false,
  /** Changes seen by the watcher within this many ms cause a single reload. @default 100 */
  watchDebounceMs: 100,
} as const;

const optionsSchema = z.strictObject({
  /** Directory of `*.cedar` files (searched recursively). @default `<policies>/default` of this checkout */
  policyDir: z.string().min(1, 'policyDir must be a directory path').optional(),
  /** The Cedar schema. @default `<policies>/ars.cedarschema` of this checkout */
  schemaPath: z.string().min(1, 'schemaPath must be a file path').optional(),
  /** Policies given as text (e.g. compiled from the agent DSL), loaded after the directory. @default [] */
  sources: z
    .array(z.strictObject({ name: z.string().min(1, 'a policy source needs a name'), text: z.string() }))
    .default([]),
  cacheSize: z
    .int('cacheSize must be a whole number')
    .min(0, 'cacheSize must be 0 (off) or more')
    .default(DEFAULT_POLICY_ENGINE_OPTIONS.cacheSize),
  timeGranularityMs: z
    .int()
    .min(1, 'timeGranularityMs must be at least 1')
    .default(DEFAULT_POLICY_ENGINE_OPTIONS.timeGranularityMs),
  watch: z.boolean().default(DEFAULT_POLICY_ENGINE_OPTIONS.watch),
  watchDebounceMs: z.int().min(0).default(DEFAULT_POLICY_ENGINE_OPTIONS.watchDebounceMs),
  /** Where decisions, reloads and engine failures are logged. @default silentLogger */
  logger: z
    .custom<Logger>(
      (v) => typeof v === 'object' && v !== null && typeof (v as Logger).error === 'function',
      'logger must be a pino Logger',
    )
    .optional(),
  /** Clock, for tests. @default Date.now */
  now: z
    .custom<() => number>(
      (v) => typeof v === 'function',
      'now must be a function returning ms since the epoch',
    )
    .optional(),
});

export type PolicyEngineOptionsInput = z.input<typeof optionsSchema>;

export interface PolicyEngineOptions {
  readonly policyDir: string | undefined;
  readonly schemaPath: string;
  readonly sources: readonly PolicySource[];
  readonly cacheSize: number;
  readonly timeGranularityMs: number;
  readonly watch: boolean;
  readonly watchDebounceMs: number;
  readonly logger: Logger;
  readonly now: () => number;
}

/** Validates the engine options and applies defaults (the shipped schema and default policy set). */
export function compilePolicyEngineOptions(input: PolicyEngineOptionsInput = {}): PolicyEngineOptions {
  const parsed = parseOrThrow(optionsSchema, input, 'policy engine options');
  const root = findPoliciesRoot();
  const schemaPath = parsed.schemaPath ?? (root ? join(root, 'ars.cedarschema') : undefined);
  if (schemaPath === undefined) {
    throw new ConfigError('policy engine options', [
      {
        path: 'schemaPath',
        message:
          'no schemaPath given and the shipped policies/ars.cedarschema was not found; pass schemaPath',
      },
    ]);
  }
  return {
    policyDir:
      parsed.policyDir ??
      (input.policyDir === undefined && input.sources === undefined && root
        ? join(root, 'default')
        : undefined),
    schemaPath,
    sources: parsed.sources,
    cacheSize: parsed.cacheSize,
    timeGranularityMs: parsed.timeGranularityMs,
    watch: parsed.watch,
    watchDebounceMs: parsed.watchDebounceMs,
    logger: parsed.logger ?? silentLogger,
    now: parsed.now ?? Date.now,
  };
}
