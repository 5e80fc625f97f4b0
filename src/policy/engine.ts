import { statSync, watch, type FSWatcher } from 'node:fs';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { Logger } from '../util/logger.js';
import { DecisionCache } from './decision-cache.js';
import type { PolicyLoadError } from './errors.js';
import { listPolicyFiles, loadPolicySet, type LoadedPolicySet, type PolicySource } from './loader.js';
import {
  compilePolicyEngineOptions,
  type PolicyEngineOptions,
  type PolicyEngineOptionsInput,
} from './options.js';
import { buildCedarRequest, type CedarRequest } from './request.js';
import {
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
import {
  sandboxGrantsFrom,
  sandboxWriteRequest,
  type SandboxCapabilityInput,
  type SandboxCapabilityOutcome,
} from './sandbox-capabilities.js';
import type { EntityRef, PolicyDecision, PolicyRequest } from './types.js';

/** What the engine currently enforces. */
export interface PolicyStatus {
  /** Increments on every (re)load, successful or not. */
  readonly version: number;
  /** False when the last load failed: every decision is then `deny` with `error` among its errors. */
  readonly ok: boolean;
  readonly error?: string;
  readonly files: readonly string[];
  readonly policyIds: readonly string[];
}

type State =
  | { readonly ok: true; readonly set: LoadedPolicySet }
  | {
      readonly ok: false;
      readonly problems: readonly PolicyLoadError[];
      readonly message: string;
      readonly files: readonly string[];
    };

let instances = 0;

const deny = (reasons: readonly string[], errors: readonly string[]): PolicyDecision =>
  Object.freeze({
    decision: 'deny',
    reasons: Object.freeze([...reasons]),
    errors: Object.freeze([...errors]),
  });

/**
 * Cedar policy decisions for ARS. Deny by default; any failure to answer (broken policy file, invalid
 * request, evaluation error, unknown outcome) is a `deny` carrying the error, logged at error level.
 * Decisions are cached by canonical request; `reload()` (or the file watcher) swaps the policy set
 * atomically, bumps `version` and clears the cache.
 */
export class PolicyEngine {
  readonly options: PolicyEngineOptions;
  private readonly log: Logger;
  private readonly cache: DecisionCache;
  private readonly pset: string;
  private readonly schemaName: string;
  private state!: State;
  private versionCounter = 0;
  private extra = new Map<string, PolicySource>();
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(status: PolicyStatus) => void>();
  /** Paths, mtimes and sizes of the schema and policy files as they were when last loaded. */
  private loadedFingerprint = '';

  constructor(input: PolicyEngineOptionsInput = {}) {
    this.options = compilePolicyEngineOptions(input);
    this.log = this.options.logger.child({ component: 'policy' });
    this.cache = new DecisionCache(this.options.cacheSize);
    instances += 1;
    this.pset = `ars-policies-${instances}`;
    this.schemaName = `ars-schema-${instances}`;
    for (const source of this.options.sources) this.extra.set(source.name, source);
    this.reload();
    if (this.options.watch) this.startWatching();
  }

  /** The policy set version; increments on every reload. */
  get version(): number {
    return this.versionCounter;
  }

  get status(): PolicyStatus {
    const s = this.state;
    return s.ok
      ? { version: this.versionCounter, ok: true, files: s.set.files, policyIds: Object.keys(s.set.policies) }
      : { version: this.versionCounter, ok: false, error: s.message, files: s.files, policyIds: [] };
  }

  get cacheStats(): { size: number; hits: number; misses: number } {
    return { size: this.cache.size, hits: this.cache.hits, misses: this.cache.misses };
  }

  /**
   * Re-reads the schema and the policies, validates them, and swaps them in at once. On failure every
   * later decision is `deny` with the problem (file:line:column) until a reload succeeds.
   */
  reload(): PolicyStatus {
    // Taken before reading: a file changed while loading makes the next refresh() reload again.
    this.loadedFingerprint = this.diskFingerprint();
    const result = loadPolicySet(this.options.policyDir, this.options.schemaPath, [...this.extra.values()]);
    let next: State;
    if (result.ok) {
      const s = cedar.preparseSchema(this.schemaName, result.set.schemaText);
      const p = cedar.preparsePolicySet(this.pset, { staticPolicies: { ...result.set.policies } });
      const failure = [s, p].find((r) => r.type === 'failure');
      next =
        failure && failure.type === 'failure'
          ? {
              ok: false,
              problems: [],
              message: `the policy engine could not load the policies: ${failure.errors.map((e) => e.message).join('; ')}`,
              files: result.set.files,
            }
          : { ok: true, set: result.set };
    } else {
      next = {
        ok: false,
        problems: result.problems,
        message: `policies failed to load, denying everything: ${result.problems.map((p) => p.message).join(' | ')}`,
        files: result.files,
      };
    }
    this.state = next;
    this.versionCounter += 1;
    this.cache.clear();
    const status = this.status;
    if (status.ok) {
      this.log.info(
        { version: status.version, files: status.files.length, policies: status.policyIds.length },
        'policies loaded',
      );
    } else {
      this.log.error(
        { version: status.version, error: status.error },
        'POLICIES FAILED TO LOAD: every decision is deny until fixed',
      );
    }
    for (const listener of this.listeners) {
      try {
        listener(status);
      } catch (error) {
        this.log.error({ err: error }, 'a policy reload listener threw');
      }
    }
    return status;
  }

  /**
   * Reloads if the schema or any policy file changed on disk since the last load (a stat of each file,
   * no parsing), and returns whether it did. Callers that must not act on a stale set — the run-time
   * capability check before a sandbox is created — call it first, so a file written just before
   * (e.g. by `ars apply`) is in force even if the watcher has not fired yet.
   */
  refresh(): boolean {
    if (this.diskFingerprint() === this.loadedFingerprint) return false;
    this.log.info({ version: this.versionCounter }, 'policy files changed on disk; reloading');
    this.reload();
    return true;
  }

  private diskFingerprint(): string {
    const stamp = (path: string): string => {
      try {
        const st = statSync(path);
        return `${path}:${st.mtimeMs}:${st.size}`;
      } catch {
        return `${path}:missing`;
      }
    };
    const parts = [stamp(this.options.schemaPath)];
    if (this.options.policyDir !== undefined) {
      try {
        for (const file of listPolicyFiles(this.options.policyDir)) parts.push(stamp(file));
      } catch (error) {
        parts.push(
          `${this.options.policyDir}:unreadable:${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    return parts.join('\n');
  }

  /**
   * Adds, replaces (same name) or removes (text undefined) a policy source given as text — e.g. the
   * policies compiled from an agent's DSL — and reloads.
   */
  setSource(name: string, text: string | undefined): PolicyStatus {
    if (text === undefined) this.extra.delete(name);
    else this.extra.set(name, { name, text });
    return this.reload();
  }

  /** Calls `listener` after every reload (e.g. to re-check running agents); returns an unsubscribe function. */
  onReload(listener: (status: PolicyStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Watches the policy directory and the schema and reloads (debounced) on any change. */
  startWatching(): void {
    if (this.watcher || this.options.policyDir === undefined) return;
    const trigger = (): void => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(), this.options.watchDebounceMs);
      this.debounce.unref();
    };
    this.watcher = watch(this.options.policyDir, { recursive: true }, trigger);
    this.watcher.on('error', (error) =>
      this.log.error({ err: error }, 'policy watcher failed; call reload() explicitly'),
    );
    this.watcher.unref();
  }

  /** Stops the watcher (if any). */
  close(): void {
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Answers one question. Never throws: every failure is a `deny` with the error, logged loudly. */
  authorize(request: PolicyRequest): PolicyDecision {
    let built: CedarRequest;
    try {
      built = buildCedarRequest(request, this.options.now(), this.options.timeGranularityMs);
    } catch (error) {
      return this.failed(request, [error instanceof Error ? error.message : String(error)]);
    }
    const state = this.state;
    if (!state.ok) return this.failed(request, [state.message]);
    const cached = this.cache.get(built.key);
    if (cached) return cached;

    let answer: cedar.AuthorizationAnswer;
    try {
      answer = cedar.statefulIsAuthorized({
        principal: built.principal,
        action: built.action,
        resource: built.resource,
        context: built.context,
        entities: built.entities,
        preparsedPolicySetId: this.pset,
        preparsedSchemaName: this.schemaName,
        validateRequest: true,
      });
    } catch (error) {
      return this.failed(request, [
        `the policy engine threw: ${error instanceof Error ? error.message : String(error)}`,
      ]);
    }
    if (answer.type !== 'success') {
      return this.failed(
        request,
        answer.errors.map((e) => e.message),
      );
    }
    const { decision, diagnostics } = answer.response;
    const reasons = [...diagnostics.reason].sort();
    if (diagnostics.errors.length > 0) {
      // A policy that errors is skipped by Cedar: it might have been a forbid. Fail closed.
      return this.failed(
        request,
        diagnostics.errors.map((e) => `policy ${e.policyId}: ${e.error.message}`),
        reasons,
      );
    }
    if (decision !== 'allow' && decision !== 'deny') {
      return this.failed(
        request,
        [`the policy engine returned an unknown decision '${String(decision)}'`],
        reasons,
      );
    }
    const result: PolicyDecision = Object.freeze({
      decision,
      reasons: Object.freeze(reasons),
      errors: Object.freeze([]),
    });
    this.cache.set(built.key, result);
    return result;
  }

  /** Hook: before agent creation (before any resource is allocated). CreateAgent and UseTier must both allow. */
  checkCreateAgent(config: AgentConfigLike, requestedBy?: EntityRef): PolicyDecision {
    return combineDecisions(createAgentRequests(config, requestedBy).map((r) => this.authorize(r)));
  }

  /** Hook: before a message is sent (SendMessage to an agent, or Publish to a topic). */
  checkSend(meta: SendMeta): PolicyDecision {
    return this.authorize(sendRequest(meta));
  }

  /** Before an agent subscribes to a topic. */
  checkSubscribe(agent: string, topic: string): PolicyDecision {
    return this.authorize(subscribeRequest(agent, topic));
  }

  /** Hook: before resource allocation. */
  checkAllocate(input: AllocateInput): PolicyDecision {
    return this.authorize(allocateRequest(input));
  }

  /** Hook: after termination. A deny means the termination broke policy (audit it as a security event). */
  afterTermination(input: TerminationInput): PolicyDecision {
    return this.authorize(terminationRequest(input));
  }

  /** A capability use at run time (the DSL's `allow: read(file) if ...` rules). */
  checkCapability(input: CapabilityInput): PolicyDecision {
    return this.authorize(capabilityRequest(input));
  }

  /**
   * Before a task's sandbox is created: the capabilities the sandbox enforces itself. `write` is
   * `capability:write` on the sandbox's scratch space (see `sandboxWriteRequest`); a deny (or any engine
   * error) makes /tmp and /scratch read-only. Network is never granted. Does not refresh from disk.
   */
  checkSandboxCapabilities(input: SandboxCapabilityInput): SandboxCapabilityOutcome {
    return sandboxGrantsFrom(this.checkCapability(sandboxWriteRequest(input)));
  }

  private failed(
    request: PolicyRequest,
    errors: readonly string[],
    reasons: readonly string[] = [],
  ): PolicyDecision {
    this.log.error(
      {
        principal: request.principal,
        action: request.action,
        resource: request.resource,
        errors,
        version: this.versionCounter,
      },
      'POLICY ENGINE COULD NOT DECIDE: denying (fail closed)',
    );
    return deny(reasons, errors);
  }
}
