import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { ConfigError, parseOrThrow } from '../../config/errors.js';
import {
  PolicyEngine,
  findPoliciesRoot,
  loadPolicySet,
  parseActionRef,
  parseEntityRef,
  type ArsAction,
  type ContextInput,
  type ResourceAttributes,
} from '../../policy/index.js';

/** What the policy commands need from the CLI (nothing yet: they work on files). */
export type PolicyCliDeps = Record<string, never> | { readonly cwd?: string };

const contextSchema = z.strictObject({
  limits: z
    .strictObject({
      memoryMb: z.number().optional(),
      cpus: z.number().optional(),
      timeoutMs: z.number().optional(),
    })
    .optional(),
  tier: z.string().optional(),
  risk: z.string().optional(),
  mode: z.string().optional(),
  messageSize: z.number().optional(),
  timeMs: z.number().optional(),
  reason: z.string().optional(),
  exitCode: z.number().optional(),
});
const resourceSchema = z.strictObject({
  kind: z.string().optional(),
  name: z.string().optional(),
  path: z.string().optional(),
  host: z.string().optional(),
  in_project: z.boolean().optional(),
  size: z.number().optional(),
  tags: z.array(z.string()).optional(),
});

function parseJsonFlag<S extends z.ZodType>(
  schema: S,
  text: string | undefined,
  flag: string,
): z.output<S> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(flag, [{ path: '', message: `'${text}' is not JSON; e.g. '{"messageSize": 10}'` }]);
  }
  return parseOrThrow(schema, value, flag);
}

function defaultSchema(): string {
  const root = findPoliciesRoot();
  if (!root) throw new Error('the ARS policies/ars.cedarschema was not found; pass --schema');
  return join(root, 'ars.cedarschema');
}

function fail(error: unknown): void {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}

/** Registers `ars policy validate <dir>` and `ars policy check <principal> <action> <resource>`. */
export function registerPolicyCommands(program: Command, _deps: PolicyCliDeps = {}): void {
  const policy = program.command('policy').description('Cedar policies: validate and try them');

  policy
    .command('validate <dir>')
    .description(
      'parse every *.cedar file under <dir> and validate it against the ARS schema; exits 1 on any problem',
    )
    .option('--schema <file>', 'Cedar schema (default: the shipped policies/ars.cedarschema)')
    .option('--json', 'print JSON')
    .action((dir: string, opts: { schema?: string; json?: boolean }) => {
      try {
        const result = loadPolicySet(resolve(dir), opts.schema ?? defaultSchema());
        if (opts.json) {
          process.stdout.write(
            `${JSON.stringify(
              result.ok
                ? { ok: true, files: result.set.files, policies: Object.keys(result.set.policies) }
                : {
                    ok: false,
                    files: result.files,
                    problems: result.problems.map((p) => ({
                      file: p.file,
                      line: p.line,
                      column: p.column,
                      message: p.detail,
                    })),
                  },
            )}\n`,
          );
        } else if (result.ok) {
          process.stdout.write(
            `ok: ${Object.keys(result.set.policies).length} policies in ${result.set.files.length} files\n`,
          );
          for (const [id, info] of result.set.sources)
            process.stdout.write(`  ${id}  (${info.file}:${info.line})\n`);
        } else {
          for (const p of result.problems) process.stderr.write(`${p.message}\n`);
          process.stderr.write(
            `${result.problems.length} problem(s); every decision would be deny until they are fixed\n`,
          );
        }
        if (!result.ok) process.exitCode = 1;
      } catch (error) {
        fail(error);
      }
    });

  policy
    .command('check <principal> <action> <resource>')
    .description(
      'ask one question, e.g. check \'Ars::Agent::"a"\' SendMessage \'Ars::Agent::"b"\' --context \'{"messageSize":10}\'; exits 0 on allow, 1 on deny',
    )
    .option(
      '--context <json>',
      'context fields (limits, tier, risk, mode, messageSize, timeMs, reason, exitCode)',
    )
    .option(
      '--attributes <json>',
      'attributes of an Ars::Resource (kind, name, path, host, in_project, size, tags)',
    )
    .option('--dir <dir>', 'policy directory (default: the shipped policies/default)')
    .option('--schema <file>', 'Cedar schema (default: the shipped policies/ars.cedarschema)')
    .option('--json', 'print JSON')
    .action(
      (
        p: string,
        a: string,
        r: string,
        opts: { context?: string; attributes?: string; dir?: string; schema?: string; json?: boolean },
      ) => {
        try {
          const context: ContextInput | undefined = parseJsonFlag(contextSchema, opts.context, '--context');
          const attributes: ResourceAttributes | undefined = parseJsonFlag(
            resourceSchema,
            opts.attributes,
            '--attributes',
          );
          const engine = new PolicyEngine({
            ...(opts.dir ? { policyDir: resolve(opts.dir) } : {}),
            ...(opts.schema ? { schemaPath: opts.schema } : {}),
            cacheSize: 0,
          });
          const decision = engine.authorize({
            principal: parseEntityRef(p, 'principal'),
            action: parseActionRef(a) as ArsAction,
            resource: parseEntityRef(r, 'resource'),
            ...(context ? { context } : {}),
            ...(attributes ? { resourceAttributes: attributes } : {}),
          });
          if (opts.json) process.stdout.write(`${JSON.stringify(decision)}\n`);
          else {
            process.stdout.write(
              `${decision.decision.toUpperCase()}${decision.reasons.length ? ` (policies: ${decision.reasons.join(', ')})` : ' (no policy permits it: deny by default)'}\n`,
            );
            for (const e of decision.errors) process.stdout.write(`  error: ${e}\n`);
          }
          process.exitCode = decision.decision === 'allow' ? 0 : 1;
        } catch (error) {
          fail(error);
        }
      },
    );
}
