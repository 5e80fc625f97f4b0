import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { parseOrThrow } from './errors.js';
import { projectRoot } from '../util/project-root.js';
import { REDIS_URL_FORMS, REDIS_URL_PATTERN } from '../util/redis-url.js';

/** Where the runtime finds its engines, and how this host names itself. Read from ARS_* variables. */
export const DEFAULT_SETTINGS = {
  /** @default '127.0.0.1:7233' */
  temporalAddress: '127.0.0.1:7233',
  /** @default 'default' */
  namespace: 'default',
  /** @default 'http://localhost:8233' */
  temporalUiUrl: 'http://localhost:8233',
  /** @default 'redis://127.0.0.1:6379' */
  redisUrl: 'redis://127.0.0.1:6379',
  /** @default 'ars-sandbox:local' */
  sandboxImage: 'ars-sandbox:local',
  /** @default 'ars-control' */
  controlTaskQueue: 'ars-control',
} as const;

const HOST_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const settingsSchema = z.strictObject({
  temporalAddress: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'ARS_TEMPORAL_ADDRESS must be host:port')
    .default(DEFAULT_SETTINGS.temporalAddress),
  namespace: z.string().min(1).default(DEFAULT_SETTINGS.namespace),
  temporalUiUrl: z.url('ARS_TEMPORAL_UI_URL must be a URL').default(DEFAULT_SETTINGS.temporalUiUrl),
  redisUrl: z
    .string()
    .regex(REDIS_URL_PATTERN, `ARS_REDIS_URL must start with ${REDIS_URL_FORMS}`)
    .default(DEFAULT_SETTINGS.redisUrl),
  sandboxImage: z.string().min(1).default(DEFAULT_SETTINGS.sandboxImage),
  controlTaskQueue: z.string().min(1).default(DEFAULT_SETTINGS.controlTaskQueue),
  hostId: z.string().regex(HOST_ID, 'ARS_HOST_ID must be 1-63 letters, digits, _ . -'),
  /** State directory (keys, service data). @default '<project>/.ars' */
  stateDir: z.string().min(1),
  /** Directory of the Cedar policies the control worker enforces (watched for changes). @default '<project>/policies/default' */
  policyDir: z.string().min(1),
  /** Redis key prefix of the audit trail. @default 'ars:audit' */
  auditPrefix: z.string().min(1).default('ars:audit'),
  /** Redis key prefix of the message bus and the agent gateways' directory. @default 'ars:bus' */
  busPrefix: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'ARS_BUS_PREFIX must be 1-64 letters, digits, _ . : -')
    .default('ars:bus'),
});

export type Settings = z.output<typeof settingsSchema>;

/** The task queue a host worker polls for the sandbox activities of the containers it owns. */
export function hostTaskQueue(hostId: string): string {
  return `ars-host-${hostId}`;
}

/**
 * Compiles runtime settings from explicit overrides, then ARS_* environment variables, then the
 * defaults. Throws ConfigError naming the bad variable.
 */
export function compileSettings(
  overrides: Partial<Settings> = {},
  env: NodeJS.ProcessEnv = process.env,
): Settings {
  const fromEnv: Record<string, string | undefined> = {
    temporalAddress:
      env.ARS_TEMPORAL_ADDRESS ?? (env.ARS_TEMPORAL_PORT ? `127.0.0.1:${env.ARS_TEMPORAL_PORT}` : undefined),
    namespace: env.ARS_NAMESPACE,
    temporalUiUrl:
      env.ARS_TEMPORAL_UI_URL ??
      (env.ARS_TEMPORAL_UI_PORT ? `http://localhost:${env.ARS_TEMPORAL_UI_PORT}` : undefined),
    redisUrl:
      env.ARS_REDIS_URL ?? (env.ARS_REDIS_PORT ? `redis://127.0.0.1:${env.ARS_REDIS_PORT}` : undefined),
    sandboxImage: env.ARS_SANDBOX_IMAGE,
    controlTaskQueue: env.ARS_CONTROL_TASK_QUEUE,
    hostId:
      env.ARS_HOST_ID ??
      hostname()
        .replace(/[^A-Za-z0-9_.-]/g, '-')
        .slice(0, 63),
    stateDir: env.ARS_HOME ?? join(projectRoot, '.ars'),
    policyDir: env.ARS_POLICY_DIR ?? join(projectRoot, 'policies', 'default'),
    auditPrefix: env.ARS_AUDIT_PREFIX,
    busPrefix: env.ARS_BUS_PREFIX,
  };
  const defined = Object.fromEntries(Object.entries(fromEnv).filter(([, v]) => v !== undefined && v !== ''));
  return parseOrThrow(settingsSchema, { ...defined, ...overrides }, 'ARS settings');
}

/** The Temporal Web UI address of one workflow. */
export function workflowUiUrl(
  settings: Pick<Settings, 'temporalUiUrl' | 'namespace'>,
  workflowId: string,
): string {
  return `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
