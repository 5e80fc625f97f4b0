import { z } from 'zod';
import { AGENT_TYPE_PATTERN } from './agent-id.js';
import type { AgentContext } from './context.js';
import { AgentDefinitionError } from './errors.js';

/** Message type name → zod schema of its payload. */
export type MessageSchemas = Record<string, z.ZodType>;

/** What an author writes: typed handlers for typed messages. */
export interface AgentSpec<
  M extends MessageSchemas,
  SS extends z.ZodType | undefined,
  TS extends z.ZodType | undefined,
> {
  /** Agent type name (lower-case, digits, dashes); ids are `type/key`. */
  readonly type: string;
  /** Schema of the agent's state; the initial state is `state.parse(undefined)` unless `initialState` is given. */
  readonly state?: SS;
  readonly initialState?: () => StateOf<SS>;
  readonly messages: M;
  readonly handlers: {
    readonly [K in keyof M]: (msg: z.output<M[K]>, ctx: AgentContext<StateOf<SS>>) => unknown;
  };
  /** Runs once per activation, before the first message (after the state was restored). */
  readonly onStart?: (ctx: AgentContext<StateOf<SS>>) => unknown;
  /**
   * When the runtime checkpoints the state: `on-save` — when a handler calls `ctx.state.save()` and
   * when the instance hibernates; `after-each-message` — also after every handler (before its
   * request is answered), so a crash loses nothing a handler finished. @default 'on-save'
   */
  readonly checkpoint?: CheckpointPolicy;
  /** Schema of run() tasks (ephemeral agents). */
  readonly task?: TS;
  /** Ephemeral entry point: runtime.run(type, task) activates a fresh instance, runs this, discards it. */
  readonly run?: (
    task: TS extends z.ZodType ? z.output<TS> : unknown,
    ctx: AgentContext<StateOf<SS>>,
  ) => unknown;
}

export type StateOf<SS> = SS extends z.ZodType ? z.output<SS> : undefined;

export const CHECKPOINT_POLICIES = ['on-save', 'after-each-message'] as const;
export type CheckpointPolicy = (typeof CHECKPOINT_POLICIES)[number];

type ErasedHandler = (msg: unknown, ctx: AgentContext<unknown>) => unknown;

/** A defined agent type, erased of its generics: what runtimes and the agent host work with. */
export interface AgentDefinition {
  readonly kind: 'ars.agent';
  readonly type: string;
  readonly messageTypes: readonly string[];
  readonly hasRun: boolean;
  readonly checkpoint: CheckpointPolicy;
  /** Validates a payload; the result is the parsed message or the problems. */
  parseMessage(type: string, payload: unknown): z.ZodSafeParseResult<unknown> | undefined;
  parseState(state: unknown): z.ZodSafeParseResult<unknown>;
  parseTask(task: unknown): z.ZodSafeParseResult<unknown>;
  initialState(): unknown;
  handler(type: string): ErasedHandler | undefined;
  readonly onStart: ((ctx: AgentContext<unknown>) => unknown) | undefined;
  readonly run: ((task: unknown, ctx: AgentContext<unknown>) => unknown) | undefined;
}

const anything = z.unknown();

/** Defines an agent type. The same module runs in-process and, unchanged, in the sandboxed agent host. */
export function defineAgent<
  M extends MessageSchemas,
  SS extends z.ZodType | undefined = undefined,
  TS extends z.ZodType | undefined = undefined,
>(spec: AgentSpec<M, SS, TS>): AgentDefinition {
  if (!AGENT_TYPE_PATTERN.test(spec.type)) {
    throw new AgentDefinitionError(spec.type, 'type must match [a-z][a-z0-9-]* (at most 63 characters)');
  }
  const handlers = new Map<string, ErasedHandler>();
  const schemas = new Map<string, z.ZodType>();
  for (const [name, schema] of Object.entries(spec.messages)) {
    const handler = (spec.handlers as Record<string, ErasedHandler | undefined>)[name];
    if (typeof handler !== 'function') {
      throw new AgentDefinitionError(
        spec.type,
        `message '${name}' has a schema but no handler; add handlers.${name}`,
      );
    }
    schemas.set(name, schema);
    handlers.set(name, handler);
  }
  for (const name of Object.keys(spec.handlers)) {
    if (!schemas.has(name)) {
      throw new AgentDefinitionError(spec.type, `handler '${name}' has no schema; add messages.${name}`);
    }
  }
  const checkpoint = spec.checkpoint ?? 'on-save';
  if (!CHECKPOINT_POLICIES.includes(checkpoint))
    throw new AgentDefinitionError(
      spec.type,
      `checkpoint '${String(checkpoint)}' is unknown; use ${CHECKPOINT_POLICIES.join(' or ')}`,
    );
  const stateSchema: z.ZodType = spec.state ?? anything;
  const taskSchema: z.ZodType = spec.task ?? anything;
  const initial = spec.initialState as (() => unknown) | undefined;
  return Object.freeze({
    kind: 'ars.agent' as const,
    type: spec.type,
    messageTypes: Object.freeze([...schemas.keys()]),
    hasRun: typeof spec.run === 'function',
    checkpoint,
    parseMessage: (type: string, payload: unknown) =>
      schemas.get(type)?.safeParse(payload, { reportInput: true }),
    parseState: (state: unknown) => stateSchema.safeParse(state, { reportInput: true }),
    parseTask: (task: unknown) => taskSchema.safeParse(task, { reportInput: true }),
    initialState: () => (initial ? initial() : spec.state ? spec.state.parse(undefined) : undefined),
    handler: (type: string) => handlers.get(type),
    onStart: spec.onStart as ((ctx: AgentContext<unknown>) => unknown) | undefined,
    run: spec.run as ((task: unknown, ctx: AgentContext<unknown>) => unknown) | undefined,
  });
}

/** True for a value made by defineAgent() (the agent host uses it to find definitions in a module). */
export function isAgentDefinition(value: unknown): value is AgentDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'ars.agent';
}
