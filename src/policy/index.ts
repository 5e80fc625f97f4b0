/**
 * Policy: Cedar (`@cedar-policy/cedar-wasm`) decisions for every ARS hook — before agent creation,
 * before a message is sent, before resource allocation, after termination — and for capability use,
 * including the capabilities a sandbox enforces itself (`checkSandboxCapabilities`: write access to its
 * scratch space).
 * Deny by default and fail closed: a broken policy file, an invalid request or an evaluation error is
 * a `deny` that carries the error. Policies load from a directory (plus text sources such as compiled
 * DSL rules), validate against `policies/ars.cedarschema`, reload at runtime and are cached per request.
 */
export { PolicyEngine, type PolicyStatus } from './engine.js';
export { PolicyLoadError, PolicyRequestError } from './errors.js';
export {
  SYSTEM_OPERATOR,
  allocateRequest,
  capabilityRequest,
  combineDecisions,
  createAgentRequests,
  sendRequest,
  subscribeRequest,
  terminationRequest,
  type AgentConfigLike,
  type AllocateInput,
  type CapabilityInput,
  type SendMeta,
  type TerminationInput,
} from './hooks.js';
export {
  findPoliciesRoot,
  listPolicyFiles,
  loadPolicySet,
  type LoadResult,
  type LoadedPolicySet,
  type PolicySource,
} from './loader.js';
export {
  DEFAULT_POLICY_ENGINE_OPTIONS,
  compilePolicyEngineOptions,
  type PolicyEngineOptions,
  type PolicyEngineOptionsInput,
} from './options.js';
export { NAMESPACE, buildContext, parseActionRef, parseEntityRef } from './request.js';
export {
  NEVER_GRANTED_CAPABILITIES,
  SANDBOX_ENFORCED_CAPABILITIES,
  SANDBOX_SCRATCH_RESOURCE_ID,
  sandboxGrantsFrom,
  sandboxWriteRequest,
  type SandboxCapabilityGrants,
  type SandboxCapabilityInput,
  type SandboxCapabilityOutcome,
} from './sandbox-capabilities.js';
export {
  ACTIONS,
  ENTITY_TYPES,
  type ArsAction,
  type ContextInput,
  type EntityRef,
  type EntityType,
  type LimitsInput,
  type PolicyDecision,
  type PolicyRequest,
  type ResourceAttributes,
} from './types.js';
