import type { EntityRef, PolicyDecision, PolicyRequest, ResourceAttributes } from './types.js';

/** The part of an AgentConfig (src/config) the creation hook reads; an AgentConfig satisfies it. */
export interface AgentConfigLike {
  readonly name: string;
  readonly tier: string;
  readonly risk: string;
  readonly mode?: string;
  readonly resources: { readonly memoryMb: number; readonly cpus: number; readonly timeoutMs: number };
}

/** Who asks for a creation or a termination; an operator `system` when not given. */
export const SYSTEM_OPERATOR: EntityRef = Object.freeze({ type: 'Operator', id: 'system' });

/** Before agent creation: CreateAgent (operator → agent) and UseTier (agent → its tier). */
export function createAgentRequests(
  config: AgentConfigLike,
  requestedBy: EntityRef = SYSTEM_OPERATOR,
): PolicyRequest[] {
  const context = {
    limits: {
      memoryMb: config.resources.memoryMb,
      cpus: config.resources.cpus,
      timeoutMs: config.resources.timeoutMs,
    },
    tier: config.tier,
    risk: config.risk,
    mode: config.mode ?? '',
  };
  const agent: EntityRef = { type: 'Agent', id: config.name };
  return [
    { principal: requestedBy, action: 'CreateAgent', resource: agent, context },
    { principal: agent, action: 'UseTier', resource: { type: 'Tier', id: config.tier }, context },
  ];
}

/** Metadata of a message about to be sent (the bus path). Exactly one of recipient and topic. */
export interface SendMeta {
  /** Sender agent name (or operator id with `senderType: 'Operator'`). */
  readonly sender: string;
  readonly senderType?: 'Agent' | 'Operator';
  /** Recipient agent name, for direct and request/response messages. */
  readonly recipient?: string;
  /** Topic, for publish and broadcast. */
  readonly topic?: string;
  /** Payload size in bytes. */
  readonly size: number;
}

export function sendRequest(meta: SendMeta): PolicyRequest {
  const principal: EntityRef = { type: meta.senderType ?? 'Agent', id: meta.sender };
  const context = { messageSize: meta.size };
  if ((meta.recipient === undefined) === (meta.topic === undefined)) {
    // Invalid on purpose: the engine turns this into a deny with this error.
    return { principal, action: 'SendMessage', resource: { type: 'Agent', id: '' }, context };
  }
  return meta.topic !== undefined
    ? { principal, action: 'Publish', resource: { type: 'Topic', id: meta.topic }, context }
    : { principal, action: 'SendMessage', resource: { type: 'Agent', id: meta.recipient ?? '' }, context };
}

export function subscribeRequest(agent: string, topic: string): PolicyRequest {
  return {
    principal: { type: 'Agent', id: agent },
    action: 'Subscribe',
    resource: { type: 'Topic', id: topic },
  };
}

/** Before resource allocation. */
export interface AllocateInput {
  readonly agent: string;
  /** Resource pool (e.g. the host); @default 'default' */
  readonly pool?: string;
  readonly limits: { readonly memoryMb: number; readonly cpus: number; readonly timeoutMs: number };
  readonly tier?: string;
  readonly risk?: string;
}

export function allocateRequest(input: AllocateInput): PolicyRequest {
  return {
    principal: { type: 'Agent', id: input.agent },
    action: 'AllocateResources',
    resource: { type: 'ResourcePool', id: input.pool ?? 'default' },
    context: { limits: input.limits, tier: input.tier ?? '', risk: input.risk ?? '' },
  };
}

/** After termination: was this termination in line with policy? A deny flags it (security event). */
export interface TerminationInput {
  readonly agent: string;
  /** Who terminated it; the agent itself when not given. */
  readonly by?: EntityRef;
  readonly reason: string;
  readonly exitCode?: number;
}

export function terminationRequest(input: TerminationInput): PolicyRequest {
  const agent: EntityRef = { type: 'Agent', id: input.agent };
  return {
    principal: input.by ?? agent,
    action: 'Terminate',
    resource: agent,
    context: { reason: input.reason, exitCode: input.exitCode ?? 0 },
  };
}

/** A capability use at run time, e.g. `read` of a file: `capability:read` on an Ars::Resource. */
export interface CapabilityInput {
  readonly agent: string;
  readonly capability: string;
  /** Entity id of the resource (a path, a URL...). */
  readonly resourceId: string;
  readonly attributes?: ResourceAttributes;
}

export function capabilityRequest(input: CapabilityInput): PolicyRequest {
  return {
    principal: { type: 'Agent', id: input.agent },
    action: `capability:${input.capability}`,
    resource: { type: 'Resource', id: input.resourceId },
    resourceAttributes: input.attributes ?? {},
  };
}

/** All must allow: reasons and errors of every part are kept (the deny's first). */
export function combineDecisions(decisions: readonly PolicyDecision[]): PolicyDecision {
  const allowed = decisions.length > 0 && decisions.every((d) => d.decision === 'allow');
  const relevant = allowed ? decisions : decisions.filter((d) => d.decision === 'deny');
  return Object.freeze({
    decision: allowed ? 'allow' : 'deny',
    reasons: Object.freeze([...new Set(relevant.flatMap((d) => d.reasons))]),
    errors: Object.freeze([...new Set(decisions.flatMap((d) => d.errors))]),
  });
}
