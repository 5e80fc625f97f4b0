/**
 * Building blocks of the worker processes: the control worker (agent workflows) and the host worker
 * (sandbox activities on the host's own task queue, plus the orphan reaper). The entry points in
 * this folder and `ars worker` / `ars dev` / the demo compose them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import Docker from 'dockerode';
import { createClient } from 'redis';
import { createControlActivities, createSandboxActivities } from '../activities/index.js';
import { AuditLog, loadAuditSigner } from '../src/audit/index.js';
import {
  aesGcmProvider,
  ed25519Provider,
  type AesGcmProvider,
  type Ed25519Provider,
} from '../src/crypto/index.js';
import { PolicyEngine } from '../src/policy/index.js';
import { hostTaskQueue, type Settings } from '../src/config/index.js';
import { DockerSandbox, LABELS } from '../src/sandbox/index.js';
import type { Logger } from '../src/util/logger.js';
import { agentWorkflowStart } from '../src/client/index.js';
import {
  runtimeLocation,
  startGatewayNode,
  TriggerEndpoint,
  TriggerRegistry,
  type TriggerEvent,
  type TriggerRegistration,
} from '../src/gateway/index.js';
import { busAuditToLog, busPolicyFromEngine } from '../src/runtime/bus-hooks.js';
import { AGENT_WORKFLOW_TYPE, eventSignal } from '../workflows/definitions.js';
import { startHostGateway, type HostGatewayInput } from './host-gateway.js';
import { startPolicyEnforcer, type PolicyEnforcer } from './policy-enforcer.js';

const bundlePath = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
/** The TypeScript sources, when this module itself runs from source (tsx). */
const workflowsSourcePath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** The prebuilt workflow bundle when `npm run build` made one, else the workflow sources. */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (existsSync(bundlePath)) return { workflowBundle: { codePath: bundlePath } };
  return { workflowsPath: existsSync(workflowsPath) ? workflowsPath : workflowsSourcePath };
}

/** How often the host worker looks for containers whose agent workflow has ended. @default 60_000 */
export const DEFAULT_REAP_INTERVAL_MS = 60_000;

export interface WorkerDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly connection: NativeConnection;
}

export interface ControlWorkerDeps extends WorkerDeps {
  readonly client: Client;
  /** Re-check live agents against policy this often. @default DEFAULT_ENFORCE_INTERVAL_MS */
  readonly enforceIntervalMs?: number;
  /** Workflow-side tuning of the worker; each field absent keeps the Temporal SDK's default. */
  readonly tuning?: ControlWorkerTuning;
}

/**
 * Capacity settings of the control worker, for runtimes that hold many agents (see
 * bench/lifecycle/persistent-scale.ts for measured values). Idle agents cost the worker nothing but
 * their sticky-cache entry; an agent evicted from the cache is replayed from its history on its next
 * task, query or signal.
 */
export interface ControlWorkerTuning {
  /** Agent workflows kept in the sticky cache. @default the SDK's, from the heap limit (~2,300 with a 4 GiB heap) */
  readonly maxCachedWorkflows?: number;
  /** Workflow tasks run at once. @default the SDK's (40) */
  readonly maxConcurrentWorkflowTaskExecutions?: number;
  /** Long polls for workflow tasks. @default the SDK's (min(10, maxConcurrentWorkflowTaskExecutions)) */
  readonly maxConcurrentWorkflowTaskPolls?: number;
  /** Control activities (policy checks, audit appends) run at once. @default the SDK's (100) */
  readonly maxConcurrentActivityTaskExecutions?: number;
}

export interface ControlWorker {
  readonly worker: Worker;
  /** The policy engine behind every hook (watches settings.policyDir and reloads on change). */
  readonly policy: PolicyEngine;
  readonly audit: AuditLog;
  readonly enforcer: PolicyEnforcer;
  readonly taskQueue: string;
  /** Runs the worker until it shuts down, then closes the engine, the enforcer and Redis. */
  run(): Promise<void>;
}

/**
 * The control worker: agent workflows, and the control activities (policy hooks, audit trail) with
 * the policy engine, the audit log and the runtime policy enforcer they need.
 */
export async function createControlWorker(deps: ControlWorkerDeps): Promise<ControlWorker> {
  const { settings, logger } = deps;
  const taskQueue = settings.controlTaskQueue;
  const policy = new PolicyEngine({ policyDir: settings.policyDir, watch: true, logger });
  const redis = createClient({ url: settings.redisUrl });
  redis.on('error', (error: unknown) =>
    logger.warn({ err: error }, 'redis connection error (audit); reconnecting'),
  );
  await redis.connect();
  const audit = new AuditLog(redis, loadAuditSigner({ keyDir: `${settings.stateDir}/keys` }), {
    keyPrefix: settings.auditPrefix,
    logger,
  });
  // Event-driven agents: their triggers live in the runtime's directory; this worker's gateway
  // hosts the `trigger` agent type, which turns a topic event into a signal-with-start.
  const triggers = new TriggerRegistry(redis, settings.busPrefix);
  const gateway = await startGatewayNode({
    ...runtimeLocation(settings),
    agents: [
      new TriggerEndpoint(triggers, (registration, event) =>
        fireTrigger(deps.client, settings, registration, event),
      ),
    ],
    gateway: { id: `control-${settings.hostId}` },
    policy: busPolicyFromEngine(policy),
    audit: busAuditToLog(audit, { kinds: ['message.sent', 'message.dropped'], logger }),
    logger,
  });
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: settings.namespace,
    taskQueue,
    activities: createControlActivities({ policy, audit, triggers }),
    ...workflowSource(),
    ...deps.tuning,
  });
  const enforcer = startPolicyEnforcer({
    client: deps.client,
    policy,
    logger,
    taskQueue,
    ...(deps.enforceIntervalMs ? { intervalMs: deps.enforceIntervalMs } : {}),
  });
  return {
    worker,
    policy,
    audit,
    enforcer,
    taskQueue,
    async run() {
      try {
        await worker.run();
      } finally {
        await gateway.close();
        await enforcer.stop();
        policy.close();
        await audit.flush();
        await redis.close();
      }
    },
  };
}

export interface HostWorkerDeps extends WorkerDeps {
  readonly docker?: Docker;
  readonly client: Client;
  /** @default DEFAULT_REAP_INTERVAL_MS */
  readonly reapIntervalMs?: number;
  /** Activity slots of this host. @default 200 */
  readonly maxConcurrentActivities?: number;
}

export interface HostWorker {
  readonly worker: Worker;
  readonly sandbox: DockerSandbox;
  readonly taskQueue: string;
  /** Removes containers of this host whose agent workflow is closed; returns their ids. */
  reap(): Promise<string[]>;
  /** Runs the worker and the reaper until the worker shuts down. */
  run(): Promise<void>;
}

export async function createHostWorker(deps: HostWorkerDeps): Promise<HostWorker> {
  const { settings, logger, client } = deps;
  const sandbox = new DockerSandbox({ docker: deps.docker ?? new Docker(), logger });
  const taskQueue = hostTaskQueue(settings.hostId);
  const worker = await Worker.create({
    connection: deps.connection,
    namespace: settings.namespace,
    taskQueue,
    activities: createSandboxActivities({ sandbox, hostId: settings.hostId, namespace: settings.namespace }),
    maxConcurrentActivityTaskExecutions: deps.maxConcurrentActivities ?? 200,
  });

  const isWorkflowOpen = async (workflowId: string): Promise<boolean> => {
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      return description.status.name === 'RUNNING';
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw error;
    }
  };
  const reap = () =>
    sandbox.reapOrphans(isWorkflowOpen, {
      [LABELS.host]: settings.hostId,
      [LABELS.namespace]: settings.namespace,
    });

  const run = async () => {
    const reapSafely = () =>
      reap().catch((error: unknown) =>
        logger.warn({ err: error }, 'reaping orphaned sandboxes failed; will retry'),
      );
    await reapSafely();
    const timer = setInterval(() => void reapSafely(), deps.reapIntervalMs ?? DEFAULT_REAP_INTERVAL_MS);
    timer.unref();
    try {
      await worker.run();
    } finally {
      clearInterval(timer);
    }
  };

  return { worker, sandbox, taskQueue, reap, run };
}

/** Starts (or wakes) an event-driven agent's workflow with the event: signal-with-start. */
async function fireTrigger(
  client: Client,
  settings: Settings,
  registration: TriggerRegistration,
  event: TriggerEvent,
): Promise<string> {
  const start = agentWorkflowStart(registration.config, settings, {
    hostId: registration.hostId,
    controlTaskQueue: registration.controlTaskQueue,
  });
  const handle = await client.workflow.signalWithStart(AGENT_WORKFLOW_TYPE, {
    ...start,
    signal: eventSignal,
    signalArgs: [event],
  });
  return handle.workflowId;
}

/** Opens the worker and client connections to Temporal named by the settings. */
export async function connect(
  settings: Settings,
): Promise<{ native: NativeConnection; client: Client; close(): Promise<void> }> {
  const native = await NativeConnection.connect({ address: settings.temporalAddress });
  const connection = await Connection.connect({ address: settings.temporalAddress });
  const client = new Client({ connection, namespace: settings.namespace });
  return {
    native,
    client,
    async close() {
      await connection.close();
      await native.close();
    },
  };
}

export type WorkerRole = 'control' | 'host';

export interface RunWorkersOptions {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly roles: readonly WorkerRole[];
  /**
   * Agent types the host role's gateway hosts (none: no gateway). With `workflows` (the default),
   * each hosted agent instance has a workflow its lifecycle is reported to.
   */
  readonly gateway?: Omit<HostGatewayInput, 'settings' | 'logger' | 'temporal'> & {
    readonly workflows?: boolean;
  };
  /** Called once every worker is polling, with what the 'workers ready' log line reports. */
  readonly onReady?: (info: {
    hostId: string;
    hostTaskQueue?: string;
    controlTaskQueue?: string;
    gatewayTypes?: readonly string[];
    /** Who computes the bus's Ed25519 (ARS_ED25519). */
    ed25519: Ed25519Provider;
    /** Who computes the bus's AES-256-GCM (ARS_AES_GCM). */
    aesGcm: AesGcmProvider;
  }) => void;
}

/**
 * Runs the workers of the given roles in this process until a shutdown signal (SIGINT, SIGTERM)
 * arrives; `standalone` is both roles. Returns after every worker has drained.
 */
export async function runWorkers(options: RunWorkersOptions): Promise<void> {
  const { settings, logger, roles } = options;
  const connection = await connect(settings);
  try {
    const deps = { settings, logger, connection: connection.native };
    const control = roles.includes('control')
      ? await createControlWorker({ ...deps, client: connection.client })
      : undefined;
    const host = roles.includes('host')
      ? await createHostWorker({ ...deps, client: connection.client })
      : undefined;
    const { workflows = true, ...hosted } = options.gateway ?? { agents: [] };
    const gateway =
      host && hosted.agents.length
        ? await startHostGateway({
            ...hosted,
            settings,
            logger,
            ...(workflows ? { temporal: connection.client } : {}),
          })
        : undefined;
    const running = Promise.all([control?.run(), host?.run()]);
    options.onReady?.({
      hostId: settings.hostId,
      ...(host ? { hostTaskQueue: host.taskQueue } : {}),
      ...(control ? { controlTaskQueue: settings.controlTaskQueue } : {}),
      ...(gateway ? { gatewayTypes: gateway.types } : {}),
      ed25519: ed25519Provider,
      aesGcm: aesGcmProvider,
    });
    try {
      await running;
    } finally {
      // The workers drained (shutdown signal): hibernate the gateway's agents, then leave.
      await gateway?.close();
    }
  } finally {
    await connection.close();
  }
}
