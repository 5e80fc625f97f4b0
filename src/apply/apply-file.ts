/**
 * `applyFile(path, ...)`: deploys a definition file, all or nothing up to the install step.
 *
 * 1. compile it (Cedar rules validated against the schema the engine uses);
 * 2. load the policy directory as it will be after installing (existing files + the file's policies);
 * 3. ask that engine the creation and allocation hooks for every agent;
 * 4. install: the Cedar files (atomically, under `<policyDir>/dsl/`), the agents (one workflow each)
 *    and the schedules (Temporal Schedules, created or updated).
 *
 * A problem in steps 1-3 throws before anything is written or started.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArsClient } from '../client/index.js';
import { ConfigError, type AgentConfig, type Settings } from '../config/index.js';
import { compileFile, formatDiagnostic, type CompileResult, type Obligation } from '../dsl/index.js';
import { combineDecisions } from '../policy/index.js';
import {
  ApplyCompileError,
  ApplyInstallError,
  ApplyPolicyDeniedError,
  ApplyPolicyLoadError,
  type DeniedAgent,
} from './errors.js';
import { compileApplyOptions, type ApplyOptionsInput } from './options.js';
import { planPolicyFiles, stagePolicyEngine, writeFileAtomic } from './policy-files.js';
import { scheduleAction, scheduleId, upsertSchedule } from './schedules.js';
import { agentWorkflowId } from '../../workflows/definitions.js';

/** What `applyFile` needs besides its options. */
export interface ApplyDeps {
  /** Connected client; required unless `dryRun`. */
  readonly client?: ArsClient;
  /** @default client.settings */
  readonly settings?: Settings;
}

export type ApplyInput = ApplyDeps & ApplyOptionsInput;

export interface AppliedAgent {
  readonly id: string;
  readonly name: string;
  /** Started now (`agent-<id>`), or only by its schedules (runs are `agent-<id>-<start time>`). */
  readonly started: boolean;
  readonly workflowId: string;
  /** Temporal UI page of the workflow (of the schedules when the agent is only scheduled). */
  readonly ui: string;
  readonly schedules: readonly string[];
  readonly config: AgentConfig;
}

export interface AppliedSchedule {
  /** Temporal Schedule id, `ars-schedule-<name>`. */
  readonly id: string;
  readonly name: string;
  readonly agent: string;
  readonly agentId: string;
  readonly cron?: readonly string[];
  readonly at?: string;
  readonly intervalMs?: number;
  readonly timezone: string;
  /** `planned` in a dry run. */
  readonly action: 'created' | 'updated' | 'planned';
  readonly ui: string;
}

export interface AppliedPolicyFile {
  readonly path: string;
  readonly agent?: string;
  readonly policyIds: readonly string[];
  readonly obligations: readonly Obligation[];
}

export interface ApplyResult {
  readonly file: string;
  readonly dryRun: boolean;
  readonly policyDir: string;
  readonly policyFiles: readonly AppliedPolicyFile[];
  readonly agents: readonly AppliedAgent[];
  readonly schedules: readonly AppliedSchedule[];
  /** Compile warnings (`file:line:column: message`). */
  readonly warnings: readonly string[];
}

const uiBase = (settings: Settings): string =>
  `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}`;

async function compileOrRefuse(
  path: string,
  input: Parameters<typeof compileFile>[1],
): Promise<CompileResult> {
  let result: CompileResult;
  try {
    result = await compileFile(path, input);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ApplyCompileError(path, [`${path}: cannot read the file: ${code ?? String(error)}`]);
  }
  if (!result.ok) {
    throw new ApplyCompileError(
      path,
      result.problems.filter((p) => p.severity === 'error').map(formatDiagnostic),
    );
  }
  return result;
}

/** Deploys the agents, policies and schedules of a definition file. See the module comment. */
export async function applyFile(path: string, input: ApplyInput): Promise<ApplyResult> {
  const { client, settings: givenSettings, ...rest } = input;
  const options = compileApplyOptions(rest);
  const settings = givenSettings ?? client?.settings;
  if (settings === undefined) {
    throw new ConfigError('apply options', [
      { path: 'settings', message: 'pass settings or a connected client' },
    ]);
  }
  if (!options.dryRun && client === undefined) {
    throw new ConfigError('apply options', [
      { path: 'client', message: 'a connected ArsClient is needed to deploy; pass client, or dryRun: true' },
    ]);
  }
  const log = options.logger.child({ component: 'apply', file: path });
  const hostId = options.hostId ?? settings.hostId;

  // 1. Compile, validating the Cedar rules against the engine's schema.
  let cedarSchema: string;
  try {
    cedarSchema = await readFile(options.schemaPath, 'utf8');
  } catch (error) {
    throw new ConfigError('apply options', [
      {
        path: 'schemaPath',
        message: `cannot read the Cedar schema ${options.schemaPath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      },
    ]);
  }
  const compiled = await compileOrRefuse(path, {
    cedarSchema,
    ...(options.image !== undefined ? { image: options.image } : {}),
    ...(options.command !== undefined ? { command: options.command } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
  const warnings = compiled.problems.filter((p) => p.severity === 'warning').map(formatDiagnostic);

  const schedulesOf = new Map<string, string[]>();
  for (const s of compiled.schedules) schedulesOf.set(s.agent, [...(schedulesOf.get(s.agent) ?? []), s.id]);
  // An agent run by a schedule is in `scheduled` mode (one task per run), unless it is persistent.
  const agents = compiled.agents.map((config) =>
    schedulesOf.has(config.name) && config.mode === 'ephemeral'
      ? { ...config, mode: 'scheduled' as const }
      : config,
  );

  // 2. + 3. The policy directory as it will be, and the creation hooks.
  const planned = planPolicyFiles(path, compiled.policies);
  const staged = await stagePolicyEngine(path, settings.policyDir, options.schemaPath, planned);
  try {
    const status = staged.engine.status;
    if (!status.ok)
      throw new ApplyPolicyLoadError(path, settings.policyDir, staged.describe(status.error ?? ''));
    const denied: DeniedAgent[] = [];
    for (const config of agents) {
      const decision = combineDecisions([
        staged.engine.checkCreateAgent(config),
        staged.engine.checkAllocate({
          agent: config.name,
          pool: hostId,
          limits: config.resources,
          tier: config.tier,
          risk: config.risk,
        }),
      ]);
      if (decision.decision !== 'allow') {
        denied.push({
          name: config.name,
          reasons: decision.reasons,
          errors: decision.errors.map(staged.describe),
        });
      }
    }
    if (denied.length > 0) throw new ApplyPolicyDeniedError(path, denied);
  } finally {
    await staged.dispose();
  }

  const policyFiles: AppliedPolicyFile[] = planned.map((p) => ({
    path: join(settings.policyDir, p.relativePath),
    ...(p.agent !== undefined ? { agent: p.agent } : {}),
    policyIds: p.policyIds,
    obligations: p.obligations,
  }));
  const byName = new Map(agents.map((a) => [a.name, a]));
  const applied = (config: AgentConfig, started: boolean): AppliedAgent => ({
    id: config.id,
    name: config.name,
    started,
    workflowId: agentWorkflowId(config.id),
    ui: started
      ? `${uiBase(settings)}/workflows/${encodeURIComponent(agentWorkflowId(config.id))}`
      : `${uiBase(settings)}/schedules`,
    schedules: (schedulesOf.get(config.name) ?? []).map(scheduleId),
    config,
  });
  const toStart = agents.filter((a) => options.startScheduled || !schedulesOf.has(a.name));
  const scheduledOnly = agents.filter((a) => !toStart.includes(a));
  const describeSchedule = (
    s: (typeof compiled.schedules)[number],
    action: AppliedSchedule['action'],
  ): AppliedSchedule => ({
    id: scheduleId(s.id),
    name: s.id,
    agent: s.agent,
    agentId: byName.get(s.agent)?.id ?? '',
    ...(s.cron !== undefined ? { cron: s.cron } : {}),
    ...(s.at !== undefined ? { at: s.at } : {}),
    ...(s.intervalMs !== undefined ? { intervalMs: s.intervalMs } : {}),
    timezone: s.timezone ?? 'UTC',
    action,
    ui: `${uiBase(settings)}/schedules/${encodeURIComponent(scheduleId(s.id))}`,
  });

  if (options.dryRun || client === undefined) {
    return {
      file: path,
      dryRun: true,
      policyDir: settings.policyDir,
      policyFiles,
      agents: agents.map((a) => applied(a, false)),
      schedules: compiled.schedules.map((s) => describeSchedule(s, 'planned')),
      warnings,
    };
  }

  // 4. Install. Policies first, so that they are in place before the agents they govern start.
  const done = { policyFiles: [] as string[], agents: [] as string[], schedules: [] as string[] };
  const fail = (step: string, cause: unknown): never => {
    throw new ApplyInstallError(path, step, done, { cause });
  };
  for (const [i, p] of planned.entries()) {
    const target = (policyFiles[i] as AppliedPolicyFile).path;
    await writeFileAtomic(target, p.text).catch((cause: unknown) => fail(`writing ${target}`, cause));
    done.policyFiles.push(target);
    log.info({ path: target, policies: p.policyIds }, 'policy file installed');
  }
  const agentsOut: AppliedAgent[] = [];
  for (const config of toStart) {
    await client
      .createAgent(config, { hostId })
      .catch((cause: unknown) => fail(`starting agent '${config.name}'`, cause));
    done.agents.push(config.id);
    agentsOut.push(applied(config, true));
    log.info({ agentId: config.id, name: config.name }, 'agent started');
  }
  const schedulesOut: AppliedSchedule[] = [];
  for (const s of compiled.schedules) {
    const config = byName.get(s.agent);
    if (config === undefined)
      fail(`schedule '${s.id}'`, new Error(`agent '${s.agent}' is not defined in the file`));
    const action = await upsertSchedule(
      client.temporal,
      s,
      scheduleAction(config as AgentConfig, settings, hostId),
    ).catch((cause: unknown) => fail(`creating schedule '${scheduleId(s.id)}'`, cause));
    done.schedules.push(scheduleId(s.id));
    schedulesOut.push(describeSchedule(s, action));
    log.info({ scheduleId: scheduleId(s.id), action }, 'schedule installed');
  }
  for (const config of scheduledOnly) agentsOut.push(applied(config, false));
  return {
    file: path,
    dryRun: false,
    policyDir: settings.policyDir,
    policyFiles,
    agents: agentsOut,
    schedules: schedulesOut,
    warnings,
  };
}
