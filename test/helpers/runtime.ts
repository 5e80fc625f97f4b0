/**
 * Test runtime: a control worker and a host worker in this process, on a fresh control task queue
 * and a fresh host id (so a fresh host task queue), against the real Temporal and Docker.
 */
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createClient } from 'redis';
import { ArsClient } from '../../src/client/index.js';
import { compileSettings, type Settings } from '../../src/config/index.js';
import { findPoliciesRoot } from '../../src/policy/index.js';
import { LABELS } from '../../src/sandbox/index.js';
import { randomId } from '../../src/util/ids.js';
import { silentLogger } from '../../src/util/logger.js';
import { redisClientOptions } from '../../src/util/redis-url.js';
import {
  connect,
  createControlWorker,
  createHostWorker,
  installQuietRuntime,
  type ControlWorker,
  type HostWorker,
} from '../../workers/index.js';

export interface TestRuntime {
  readonly settings: Settings;
  readonly ars: ArsClient;
  /** The in-process control worker: its policy engine and audit log (absent with `workers: false`). */
  readonly control: ControlWorker | undefined;
  /** The in-process host worker (absent when started with `workers: false`). */
  readonly host: HostWorker | undefined;
  readonly docker: Docker;
  /** Containers on this test's host id, any state. */
  containers(): Promise<Docker.ContainerInfo[]>;
  stop(): Promise<void>;
}

export interface TestRuntimeOptions {
  /** Run the control and host workers in this process. @default true */
  readonly workers?: boolean;
  /** Cedar policy directory of the control worker. @default the shipped policies/default */
  readonly policyDir?: string;
}

export async function startTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  installQuietRuntime();
  const settings = compileSettings({
    hostId: randomId('test-host'),
    controlTaskQueue: randomId('test-control'),
    auditPrefix: randomId('ars-test-audit'),
    busPrefix: randomId('ars-test-bus'),
    ...(options.policyDir ? { policyDir: options.policyDir } : {}),
  });
  const connection = await connect(settings);
  const docker = new Docker();
  const ars = new ArsClient(connection.client, settings);
  const deps = { settings, logger: silentLogger, connection: connection.native };
  // Without workers, the host is only a handle on the sandbox (for reaping and inspection).
  const control =
    options.workers === false ? undefined : await createControlWorker({ ...deps, client: connection.client });
  const host =
    options.workers === false
      ? undefined
      : await createHostWorker({ ...deps, client: connection.client, docker });
  const running = Promise.all([control?.run(), host?.run()]);
  return {
    settings,
    ars,
    control,
    host,
    docker,
    containers: () =>
      docker.listContainers({ all: true, filters: { label: [`${LABELS.host}=${settings.hostId}`] } }),
    async stop() {
      control?.worker.shutdown();
      host?.worker.shutdown();
      await running;
      await connection.close();
      await deleteKeys(settings.redisUrl, `${settings.auditPrefix}*`);
      await deleteKeys(settings.redisUrl, `${settings.busPrefix}*`);
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The Unix socket of the Redis that scripts/services.sh starts (ARS_REDIS_SOCKET overrides). */
export function servicesRedisSocket(): string {
  return process.env.ARS_REDIS_SOCKET ?? join(compileSettings().stateDir, 'redis', 'redis.sock');
}

/** A DSL identifier unique to this run (DSL names take no '-'). */
export function dslName(prefix: string): string {
  return randomId(prefix).replace(/-/g, '_');
}

/** Deletes this test's Redis keys (never a fixed or shared prefix). */
export async function deleteKeys(redisUrl: string, pattern: string): Promise<void> {
  const redis = createClient(redisClientOptions(redisUrl));
  await redis.connect();
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...batch);
    for (let i = 0; i < keys.length; i += 500) await redis.del(keys.slice(i, i + 500));
  } finally {
    await redis.close();
  }
}

/** A fresh temporary directory holding a copy of the shipped default policies (tests add files to it). */
export async function copyDefaultPolicies(tag: string): Promise<string> {
  const root = findPoliciesRoot();
  if (root === undefined) throw new Error('policies/ars.cedarschema not found above this test');
  const dir = await mkdtemp(join(tmpdir(), `${tag}-`));
  await cp(join(root, 'default'), dir, { recursive: true });
  return dir;
}

/** Deletes the schedules and terminates the workflows a test started (those already gone are skipped). */
export async function removeRuns(
  ars: ArsClient,
  runs: { readonly schedules?: readonly string[]; readonly workflows?: readonly string[] },
): Promise<void> {
  for (const id of runs.schedules ?? [])
    await ars.temporal.schedule
      .getHandle(id)
      .delete()
      .catch(() => undefined);
  for (const id of runs.workflows ?? [])
    await ars.temporal.workflow
      .getHandle(id)
      .terminate('test cleanup')
      .catch(() => undefined);
}
