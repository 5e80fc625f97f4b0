/**
 * The agent gateway of a host worker: hosts the agent types named on the command line
 * (`ars worker --role host --agents <module>[#type] --agent-tier none|docker|gvisor`) — in this
 * process for the `none` tier (trusted code, only where policy allows that tier), or in a hardened
 * container per agent type spoken to over the stdio protocol — and joins the runtime's gateways
 * on Redis. The Cedar engine answers the pre-send hook; dropped messages are audited.
 */
import { resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import {
  agentDefinitionsOf,
  dockerAgentCommand,
  OnDemandEndpoint,
  StdioAgentConnection,
  type ProcessEndpoint,
} from '../src/agent-host/index.js';
import { AuditLog, loadAuditSigner } from '../src/audit/index.js';
import { DEFAULT_RESOURCES, type Settings } from '../src/config/index.js';
import { runtimeLocation, startGatewayNode, type AgentExit, type GatewayNode } from '../src/gateway/index.js';
import { PolicyEngine } from '../src/policy/index.js';
import { busAuditToLog, busPolicyFromEngine } from '../src/runtime/bus-hooks.js';
import { isAgentDefinition, type AgentDefinition, type AgentEndpoint } from '../src/sdk/index.js';
import { ArsError } from '../src/util/errors.js';
import type { Logger } from '../src/util/logger.js';
import { createClient } from 'redis';
import { WorkflowLifecycleReporter } from './agent-lifecycle-reporter.js';

/** The checkout (mounted read-only into agent containers so handler modules find their imports). */
const projectRoot = fileURLToPath(
  new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url),
);
const agentHostMain = fileURLToPath(new URL('../src/agent-host/main.js', import.meta.url));

/** Tiers a host gateway can run agent types in. */
export const GATEWAY_TIERS = ['none', 'docker', 'gvisor'] as const;
export type GatewayTier = (typeof GATEWAY_TIERS)[number];

/** A host gateway could not start: a bad module, a tier policy denies, no master key. */
export class HostGatewayError extends ArsError {
  readonly code = 'ARS_HOST_GATEWAY';
  constructor(message: string) {
    super(message);
  }
}

export interface HostGatewayInput {
  readonly settings: Settings;
  readonly logger: Logger;
  /** Handler modules, `path` or `path#type` (compiled .js; every definition the module exports is hosted). */
  readonly agents: readonly string[];
  /** @default 'none' */
  readonly tier?: GatewayTier;
  /** Hibernate agent instances idle this long (0 = never). @default 0 */
  readonly idleTimeoutMs?: number;
  readonly onAgentExit?: (exit: AgentExit) => void;
  /**
   * Temporal: each hosted agent instance gets a workflow (`hosted-<agent id>` on the control task
   * queue) that the gateway tells when the instance is activated, hibernates, or loses its process.
   * @default no workflows
   */
  readonly temporal?: Client;
}

export interface HostGateway {
  readonly node: GatewayNode;
  readonly types: readonly string[];
  close(): Promise<void>;
}

/** Imports `path[#type]` and returns the agent definitions it names. */
export async function loadAgentModules(specs: readonly string[]): Promise<AgentDefinition[]> {
  const out = new Map<string, AgentDefinition>();
  for (const spec of specs) {
    const [path, type] = spec.split('#') as [string, string | undefined];
    let found: AgentDefinition[];
    try {
      found = await agentDefinitionsOf(path);
    } catch (error) {
      throw new HostGatewayError(
        `cannot import agent module '${path}': ${error instanceof Error ? error.message : String(error)}; give the path of a compiled .js module`,
      );
    }
    const chosen = type ? found.filter((d) => d.type === type) : found;
    if (chosen.length === 0)
      throw new HostGatewayError(
        `agent module '${path}' exports ${type ? `no agent type '${type}'` : 'no agent definition'} (it exports: ${found.map((d) => d.type).join(', ') || 'none'})`,
      );
    for (const d of chosen) {
      if (out.has(d.type) && out.get(d.type) !== d)
        throw new HostGatewayError(`agent type '${d.type}' is defined by two of the given modules`);
      out.set(d.type, d);
    }
  }
  return [...out.values()];
}

/** Starts the host's gateway with the agent types of `input.agents`. */
export async function startHostGateway(input: HostGatewayInput): Promise<HostGateway> {
  const { settings, logger } = input;
  const tier = input.tier ?? 'none';
  const definitions = await loadAgentModules(input.agents);
  const policy = new PolicyEngine({ policyDir: settings.policyDir, watch: true, logger });
  for (const d of definitions) {
    const decision = policy.checkCreateAgent({
      name: d.type,
      tier,
      risk: 'low',
      mode: 'persistent',
      resources: DEFAULT_RESOURCES,
    });
    if (decision.decision !== 'allow') {
      policy.close();
      throw new HostGatewayError(
        `policy does not allow agent type '${d.type}' in the '${tier}' tier: ${[...decision.reasons, ...decision.errors].join('; ') || 'no policy permits it (deny by default)'}`,
      );
    }
  }
  const redis = createClient({ url: settings.redisUrl });
  await redis.connect();
  const audit = new AuditLog(redis, loadAuditSigner({ keyDir: `${settings.stateDir}/keys` }), {
    keyPrefix: settings.auditPrefix,
    logger,
  });
  const endpoints: (AgentDefinition | AgentEndpoint)[] = [];
  const reporter = input.temporal
    ? new WorkflowLifecycleReporter({
        client: input.temporal,
        taskQueue: settings.controlTaskQueue,
        logger,
      })
    : undefined;
  try {
    for (const d of definitions) {
      if (tier === 'none') {
        endpoints.push(d);
        continue;
      }
      // One sandbox per agent type, running only while some instance of the type is active.
      let starts = 0;
      endpoints.push(
        new OnDemandEndpoint({
          agentType: d.type,
          messageTypes: d.messageTypes,
          start: () => sandboxedEndpoint(d, tier, settings, input.agents, ++starts),
        }),
      );
    }
    const node = await startGatewayNode({
      ...runtimeLocation(settings),
      agents: endpoints,
      gateway: {
        id: settings.hostId,
        ...(input.idleTimeoutMs ? { idleTimeoutMs: input.idleTimeoutMs } : {}),
      },
      policy: busPolicyFromEngine(policy),
      // every message an agent sends or has refused (one entry each, at the agent level), and every
      // frame the bus drops between gateways (start.ts)
      audit: busAuditToLog(audit, { kinds: ['message.sent', 'message.dropped'], logger }),
      logger,
      ...(input.onAgentExit ? { onAgentExit: input.onAgentExit } : {}),
      ...(reporter ? { lifecycle: reporter } : {}),
    });
    return {
      node,
      types: definitions.map((d) => d.type),
      async close() {
        await node.close(); // hibernates its agents first: their workflows hear of it
        await reporter?.close();
        policy.close();
        await redis.close();
      },
    };
  } catch (error) {
    await Promise.allSettled(
      endpoints.filter((e) => !isAgentDefinition(e)).map((e) => (e as AgentEndpoint).close()),
    );
    policy.close();
    await redis.close();
    throw error;
  }
}

/** One hardened container per agent type, running the agent host on the type's module. */
async function sandboxedEndpoint(
  definition: AgentDefinition,
  tier: Exclude<GatewayTier, 'none'>,
  settings: Settings,
  specs: readonly string[],
  start: number,
): Promise<ProcessEndpoint> {
  const spec = specs.find((s) => s.split('#')[1] === definition.type) ?? specs[0];
  const modulePath = resolve((spec ?? '').split('#')[0] ?? '');
  const name = `ars-agent-${settings.hostId}-${definition.type}-${start}`.slice(0, 120);
  const { command, args } = dockerAgentCommand({
    name,
    image: settings.sandboxImage,
    mounts: {
      [projectRoot]: projectRoot,
      ...(modulePath.startsWith(projectRoot) ? {} : { [modulePath]: modulePath }),
    },
    command: ['node', agentHostMain, '--module', modulePath, '--type', definition.type],
    ...(tier === 'gvisor' ? { runtime: 'runsc' } : {}),
    memoryMb: DEFAULT_RESOURCES.memoryMb,
  });
  return StdioAgentConnection.spawn({ command, args, containerName: name, helloTimeoutMs: 60_000 });
}
