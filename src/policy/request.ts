import type * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyRequestError } from './errors.js';
import {
  ENTITY_TYPES,
  type ContextInput,
  type EntityRef,
  type PolicyRequest,
  type ResourceAttributes,
} from './types.js';

/** The namespace of every ARS entity type and action. */
export const NAMESPACE = 'Ars';

/** A request in Cedar's JSON shape, plus the canonical cache key of everything the decision depends on. */
export interface CedarRequest {
  readonly principal: cedar.TypeAndId;
  readonly action: cedar.TypeAndId;
  readonly resource: cedar.TypeAndId;
  readonly context: cedar.Context;
  readonly entities: cedar.EntityJson[];
  readonly key: string;
}

const finite = (value: number | undefined, field: string): number => {
  if (value === undefined) return 0;
  if (!Number.isFinite(value))
    throw new PolicyRequestError('policy request', `${field} must be a finite number, got ${String(value)}`);
  return Math.trunc(value);
};

/** Cedar decimals have at most 4 fractional digits. */
const toDecimal = (value: number): string => (Number.isFinite(value) ? value.toFixed(4) : '0.0000');

function checkRef(ref: EntityRef, role: string): void {
  if (!(ENTITY_TYPES as readonly string[]).includes(ref.type)) {
    throw new PolicyRequestError(
      'policy request',
      `${role} type '${ref.type}' is unknown; use one of ${ENTITY_TYPES.join(', ')}`,
    );
  }
  if (typeof ref.id !== 'string' || ref.id.length === 0) {
    throw new PolicyRequestError('policy request', `${role} id must be a non-empty string`);
  }
}

function resourceAttrs(
  attrs: ResourceAttributes | undefined,
  id: string,
): Record<string, cedar.CedarValueJson> {
  return {
    kind: attrs?.kind ?? '',
    name: attrs?.name ?? id,
    path: attrs?.path ?? '',
    host: attrs?.host ?? '',
    in_project: attrs?.in_project ?? false,
    size: finite(attrs?.size, 'resourceAttributes.size'),
    tags: [...new Set(attrs?.tags ?? [])].sort(),
  };
}

/** Fills every context field of the schema's RequestContext; `time` is rounded down to `granularityMs`. */
export function buildContext(
  input: ContextInput | undefined,
  nowMs: number,
  granularityMs: number,
): cedar.Context {
  const timeMs = input?.timeMs ?? nowMs;
  const rounded = Math.floor(timeMs / granularityMs) * granularityMs;
  const cpus = input?.limits?.cpus ?? 0;
  return {
    limits: {
      memoryMb: finite(input?.limits?.memoryMb, 'limits.memoryMb'),
      cpus: { __extn: { fn: 'decimal', arg: toDecimal(cpus) } },
      cpuMillis: finite(cpus * 1000, 'limits.cpus'),
      timeoutMs: finite(input?.limits?.timeoutMs, 'limits.timeoutMs'),
    },
    tier: input?.tier ?? '',
    risk: input?.risk ?? '',
    mode: input?.mode ?? '',
    messageSize: finite(input?.messageSize, 'messageSize'),
    time: Math.floor(rounded / 1000),
    hourUtc: new Date(rounded).getUTCHours(),
    reason: input?.reason ?? '',
    exitCode: finite(input?.exitCode, 'exitCode'),
  };
}

/**
 * Builds the Cedar request: typed uids in the `Ars` namespace, the principal and resource entities
 * with their attributes, and the filled context. Throws PolicyRequestError on a malformed request.
 */
export function buildCedarRequest(req: PolicyRequest, nowMs: number, granularityMs: number): CedarRequest {
  checkRef(req.principal, 'principal');
  checkRef(req.resource, 'resource');
  if (typeof req.action !== 'string' || req.action.length === 0) {
    throw new PolicyRequestError(
      'policy request',
      'action must be a non-empty string, e.g. SendMessage or capability:read',
    );
  }
  const principal = { type: `${NAMESPACE}::${req.principal.type}`, id: req.principal.id };
  const resource = { type: `${NAMESPACE}::${req.resource.type}`, id: req.resource.id };
  const action = { type: `${NAMESPACE}::Action`, id: req.action };
  const context = buildContext(req.context, nowMs, granularityMs);
  const principalAttrs = { name: req.principal.id };
  const resAttrs =
    req.resource.type === 'Resource'
      ? resourceAttrs(req.resourceAttributes, req.resource.id)
      : { name: req.resource.id };
  const entities: cedar.EntityJson[] = [{ uid: principal, attrs: principalAttrs, parents: [] }];
  if (!(principal.type === resource.type && principal.id === resource.id)) {
    entities.push({ uid: resource, attrs: resAttrs, parents: [] });
  }
  // Every part is built in a fixed key order, so JSON.stringify is canonical here.
  const key = JSON.stringify([
    principal.type,
    principal.id,
    action.id,
    resource.type,
    resource.id,
    resAttrs,
    context,
  ]);
  return { principal, action, resource, context, entities, key };
}

/**
 * Parses an entity reference as written on the command line: `Ars::Agent::"researcher"`,
 * `Agent::"researcher"` or `Agent::researcher`.
 */
export function parseEntityRef(text: string, role = 'entity'): EntityRef {
  const match = /^(?:Ars::)?([A-Za-z]+)::(?:"((?:[^"\\]|\\.)*)"|([^"\s]+))$/.exec(text.trim());
  if (!match) {
    throw new PolicyRequestError(
      role,
      `'${text}' is not an entity reference; write it as Ars::Agent::"name"`,
    );
  }
  const type = match[1] ?? '';
  const id = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '');
  if (!(ENTITY_TYPES as readonly string[]).includes(type)) {
    throw new PolicyRequestError(
      role,
      `entity type '${type}' is unknown; use one of ${ENTITY_TYPES.join(', ')}`,
    );
  }
  return { type: type as EntityRef['type'], id };
}

/** Parses an action as written on the command line: `Ars::Action::"SendMessage"`, `SendMessage` or `capability:read`. */
export function parseActionRef(text: string): string {
  const match = /^(?:(?:Ars::)?Action::)?"?([^"]+)"?$/.exec(text.trim());
  if (!match?.[1])
    throw new PolicyRequestError(
      'action',
      `'${text}' is not an action; write it as Ars::Action::"SendMessage"`,
    );
  return match[1];
}
