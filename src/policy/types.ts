/** The outcome of one policy question. `reasons` are the ids of the policies that decided it. */
export interface PolicyDecision {
  readonly decision: 'allow' | 'deny';
  /** Ids of the determining policies (the @id annotation, else `<file>:<line>`). */
  readonly reasons: readonly string[];
  /** Engine or request errors; non-empty errors always come with `deny` (fail closed). */
  readonly errors: readonly string[];
}

/** The entity types of the ARS schema (namespace `Ars`). */
export const ENTITY_TYPES = ['Agent', 'Operator', 'Topic', 'Tier', 'ResourcePool', 'Resource'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

/** The non-capability actions of the ARS schema. Capabilities are `capability:<name>`. */
export const ACTIONS = [
  'CreateAgent',
  'UseTier',
  'SendMessage',
  'Publish',
  'Subscribe',
  'AllocateResources',
  'Terminate',
] as const;
export type ArsAction = (typeof ACTIONS)[number] | `capability:${string}`;

/** A reference to an entity: `{ type: 'Agent', id: 'researcher' }` is `Ars::Agent::"researcher"`. */
export interface EntityRef {
  readonly type: EntityType;
  readonly id: string;
}

/** Attributes of the generic capability resource `Ars::Resource`; missing ones are filled with ""/false/0/[]. */
export interface ResourceAttributes {
  kind?: string;
  name?: string;
  path?: string;
  host?: string;
  in_project?: boolean;
  size?: number;
  tags?: readonly string[];
}

/** Limits as in the agent config (cpus may be fractional). */
export interface LimitsInput {
  memoryMb?: number;
  cpus?: number;
  timeoutMs?: number;
}

/** The context a caller may give; every missing field is filled (0 / "" / now). */
export interface ContextInput {
  limits?: LimitsInput;
  tier?: string;
  risk?: string;
  mode?: string;
  messageSize?: number;
  /** Request time in ms since the epoch; defaults to now. Rounded down to the engine's granularity. */
  timeMs?: number;
  reason?: string;
  exitCode?: number;
}

/** One authorization question. */
export interface PolicyRequest {
  readonly principal: EntityRef;
  readonly action: ArsAction;
  readonly resource: EntityRef;
  readonly context?: ContextInput;
  /** Only for `Ars::Resource` resources (capabilities). */
  readonly resourceAttributes?: ResourceAttributes;
}
