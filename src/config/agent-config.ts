import { z } from 'zod';
import { parseOrThrow } from './errors.js';
import { ENV_NAME, TASK_MESSAGES, TIMEOUT_MS_BOUNDS } from './task-rules.js';

/** Sandbox tiers, weakest to strongest isolation. `none` runs in-process (trusted code only). */
export const SECURITY_TIERS = ['none', 'docker', 'gvisor', 'firecracker'] as const;
export type SecurityTier = (typeof SECURITY_TIERS)[number];

/** Risk levels; when no tier is given, risk picks one (low → docker, medium → gvisor, high → firecracker). */
export const RISK_LEVELS = ['low', 'medium', 'high'] as const;
export type RiskLevel = (typeof RISK_LEVELS)[number];

export const RISK_TIER: Readonly<Record<RiskLevel, SecurityTier>> = {
  low: 'docker',
  medium: 'gvisor',
  high: 'firecracker',
};

export const EXECUTION_MODES = ['ephemeral', 'persistent', 'scheduled', 'event-driven'] as const;
export type ExecutionMode = (typeof EXECUTION_MODES)[number];

/** Resource defaults for a standard agent. */
export const DEFAULT_RESOURCES = {
  /** @default 256 */
  memoryMb: 256,
  /** @default 1 */
  cpus: 1,
  /** @default 128 */
  pidsLimit: 128,
  /** @default 300_000 (5 minutes) */
  timeoutMs: 300_000,
  /** @default 64 */
  scratchMb: 64,
} as const;

/** Persistent agents continue-as-new after this many tasks, to bound their history. */
export const DEFAULT_TASKS_PER_RUN = 100;

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const CAPABILITY = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;

const commandSchema = z
  .array(z.string().min(1, TASK_MESSAGES.argumentEmpty), { error: TASK_MESSAGES.commandType })
  .min(1, TASK_MESSAGES.commandEmpty);

const envSchema = z.record(z.string().regex(ENV_NAME, TASK_MESSAGES.envName), z.string());

export const resourceLimitsSchema = z.strictObject({
  /** Memory limit in MiB; swap is not allowed (memory = memory + swap). */
  memoryMb: z
    .int('memoryMb must be a whole number of MiB')
    .min(16, 'memoryMb must be at least 16')
    .max(65_536, 'memoryMb must be at most 65536')
    .default(DEFAULT_RESOURCES.memoryMb),
  /** CPU quota in cores (0.5 = half a core). */
  cpus: z
    .number()
    .gt(0, 'cpus must be greater than 0, e.g. 0.5')
    .max(64, 'cpus must be at most 64')
    .default(DEFAULT_RESOURCES.cpus),
  /** Maximum number of processes in the sandbox. */
  pidsLimit: z
    .int()
    .min(8, 'pidsLimit must be at least 8')
    .max(4096, 'pidsLimit must be at most 4096')
    .default(DEFAULT_RESOURCES.pidsLimit),
  /** Wall-clock limit of one task; the container is killed when it is exceeded. */
  timeoutMs: z
    .int()
    .min(TIMEOUT_MS_BOUNDS.min, TASK_MESSAGES.timeoutMin)
    .max(TIMEOUT_MS_BOUNDS.max, TASK_MESSAGES.timeoutMax)
    .default(DEFAULT_RESOURCES.timeoutMs),
  /** Size of the writable tmpfs mounted at /scratch and /tmp. */
  scratchMb: z
    .int()
    .min(1, 'scratchMb must be at least 1')
    .max(4096, 'scratchMb must be at most 4096')
    .default(DEFAULT_RESOURCES.scratchMb),
});

export const sandboxSpecSchema = z.strictObject({
  /** Container image; defaults to the runtime's sandbox image (ARS_SANDBOX_IMAGE, else ars-sandbox:local). */
  image: z.string().min(1, 'image must not be empty').optional(),
  /** Program and arguments; required for ephemeral agents, the default task of persistent ones. */
  command: commandSchema.optional(),
  /** Environment variables for the agent's process. */
  env: envSchema.default({}),
  /** Working directory inside the sandbox. */
  workdir: z.string().startsWith('/', 'workdir must be an absolute path').optional(),
});

/** How long an event-driven agent waits for its next event before it hibernates. @default 300_000 (5 min) */
export const DEFAULT_EVENT_IDLE_TIMEOUT_MS = 300_000;

export const triggerSchema = z.strictObject({
  /** Events published on this topic start the agent (or wake it) and each runs one task. */
  topic: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$/, 'trigger.topic is 1-256 letters, digits, _ . : / -'),
  /** Hibernate (end the workflow; the next event starts it again) after this long without events. */
  idleTimeoutMs: z
    .int()
    .min(100, 'trigger.idleTimeoutMs must be at least 100')
    .max(7 * 24 * 3_600_000)
    .default(DEFAULT_EVENT_IDLE_TIMEOUT_MS),
});

export const agentConfigSchema = z
  .strictObject({
    /** Stable agent id; becomes the workflow id `agent-<id>`. Generated when absent. */
    id: z
      .string()
      .regex(ID, 'id must be 1-100 letters, digits, _ . - and start with a letter or digit')
      .optional(),
    /** Human-readable agent name (shown in the Temporal UI and `ars ps`). */
    name: z.string().regex(NAME, 'name must be 1-63 letters, digits, _ . - and start with a letter or digit'),
    /** @default 'ephemeral' */
    mode: z.enum(EXECUTION_MODES).default('ephemeral'),
    /** Sandbox tier; derived from `risk` when absent. */
    tier: z.enum(SECURITY_TIERS).optional(),
    /** @default 'low' */
    risk: z.enum(RISK_LEVELS).default('low'),
    resources: resourceLimitsSchema.default(() => resourceLimitsSchema.parse({})),
    /** Capabilities the agent asks for; each is checked by policy. */
    capabilities: z
      .array(z.string().regex(CAPABILITY, 'capabilities are identifiers such as "read" or "net:http"'))
      .default([])
      .refine((list) => new Set(list).size === list.length, 'capabilities must not repeat'),
    /** Free-form labels, kept with the agent and shown by `ars inspect`. */
    metadata: z.record(z.string(), z.string()).default({}),
    sandbox: sandboxSpecSchema.default(() => sandboxSpecSchema.parse({})),
    /** Persistent agents: continue-as-new after this many tasks. */
    tasksPerRun: z.int().min(1).max(10_000).default(DEFAULT_TASKS_PER_RUN),
    /** Event-driven agents: the topic whose events start or wake the agent. */
    trigger: triggerSchema.optional(),
  })
  .superRefine((config, ctx) => {
    if (config.mode === 'event-driven' && !config.trigger) {
      ctx.addIssue({
        code: 'custom',
        path: ['trigger'],
        message: 'an event-driven agent needs a trigger, e.g. { "topic": "orders.new" }',
      });
    }
    if (config.mode !== 'event-driven' && config.trigger) {
      ctx.addIssue({
        code: 'custom',
        path: ['trigger'],
        message: `only event-driven agents have a trigger; set mode to "event-driven" or remove trigger`,
      });
    }
    if (config.mode === 'event-driven' && !config.sandbox.command) {
      ctx.addIssue({
        code: 'custom',
        path: ['sandbox', 'command'],
        message:
          'an event-driven agent needs a command to run for each event, e.g. ["sh", "-c", "echo $ARS_EVENT"]',
      });
    }
    if (config.mode === 'ephemeral' && !config.sandbox.command) {
      ctx.addIssue({
        code: 'custom',
        path: ['sandbox', 'command'],
        message: 'an ephemeral agent needs a command to run, e.g. ["echo", "hello"]',
      });
    }
  });

/** What callers write: every field with a default may be left out. */
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

/** A validated agent config with defaults applied and its tier resolved. */
export type AgentConfig = z.output<typeof agentConfigSchema> & {
  readonly id: string;
  readonly tier: SecurityTier;
};

export type ResourceLimits = z.output<typeof resourceLimitsSchema>;

/**
 * Validates an agent config, applies defaults, resolves the tier from the risk level and fills in an
 * id. Throws ConfigError naming every bad field; nothing is created on failure.
 */
export function compileAgentConfig(input: unknown, generateId: () => string = defaultId): AgentConfig {
  const parsed = parseOrThrow(agentConfigSchema, input, 'agent config');
  return { ...parsed, id: parsed.id ?? generateId(), tier: parsed.tier ?? RISK_TIER[parsed.risk] };
}

function defaultId(): string {
  return globalThis.crypto.randomUUID().slice(0, 13);
}

/** A task for a persistent agent: the command to run, with optional environment and time limit. */
export const taskSchema = z.strictObject({
  command: commandSchema,
  env: envSchema.default({}),
  timeoutMs: resourceLimitsSchema.shape.timeoutMs.unwrap().optional(),
});
export type TaskInput = z.input<typeof taskSchema>;
export type Task = z.output<typeof taskSchema>;

/**
 * Validates a task and applies its defaults; throws ConfigError naming every bad field. Workflow
 * code uses `checkTask` (task-check.ts) instead: the same rules without loading zod.
 */
export function compileTask(input: unknown): Task {
  return parseOrThrow(taskSchema, input, 'task');
}
