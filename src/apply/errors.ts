/**
 * Why `applyFile` refused a definition file (nothing was deployed) or stopped part-way through
 * installing it (what was deployed is listed).
 */
import { ArsError } from '../util/errors.js';

/** What an install had already done when it failed. */
export interface PartialDeployment {
  readonly policyFiles: readonly string[];
  readonly agents: readonly string[];
  readonly schedules: readonly string[];
}

/** The file does not parse or compile; every problem is `file:line:column: message`. Nothing deployed. */
export class ApplyCompileError extends ArsError {
  readonly code = 'ARS_APPLY_COMPILE';

  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `${file} was not applied (nothing deployed): ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
}

/**
 * The policy directory together with the file's policies does not load (a clash of policy ids, a
 * broken file already in the directory, ...). Nothing deployed.
 */
export class ApplyPolicyLoadError extends ArsError {
  readonly code = 'ARS_APPLY_POLICY_LOAD';

  constructor(
    readonly file: string,
    readonly policyDir: string,
    readonly reason: string,
  ) {
    super(
      `${file} was not applied (nothing deployed): the policies in ${policyDir} together with the file's policies do not load: ${reason}`,
    );
  }
}

/** One agent the combined policy set would not let be created. */
export interface DeniedAgent {
  readonly name: string;
  /** Ids of the policies that decided (forbids that matched), possibly empty (no permit matched). */
  readonly reasons: readonly string[];
  readonly errors: readonly string[];
}

/** The creation hook (`checkCreateAgent`) denies at least one agent of the file. Nothing deployed. */
export class ApplyPolicyDeniedError extends ArsError {
  readonly code = 'ARS_APPLY_POLICY_DENIED';

  constructor(
    readonly file: string,
    readonly denied: readonly DeniedAgent[],
  ) {
    super(
      `${file} was not applied (nothing deployed): policy denies creating ${denied
        .map(
          (d) =>
            `agent '${d.name}' (${
              d.reasons.length > 0
                ? `forbidden by ${d.reasons.join(', ')}`
                : 'no policy permits it with these limits, tier and risk'
            }${d.errors.length > 0 ? `; errors: ${d.errors.join('; ')}` : ''})`,
        )
        .join(', ')}`,
    );
  }
}

/** Installing failed after it had started (e.g. Temporal became unreachable); `deployed` lists what is in place. */
export class ApplyInstallError extends ArsError {
  readonly code = 'ARS_APPLY_INSTALL';

  constructor(
    readonly file: string,
    readonly step: string,
    readonly deployed: PartialDeployment,
    options: { cause: unknown },
  ) {
    super(
      `${file} was applied only in part: ${step} failed: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}. Already deployed: policy files [${deployed.policyFiles.join(', ')}], agents [${deployed.agents.join(', ')}], schedules [${deployed.schedules.join(', ')}]; fix the cause and apply again (re-applying replaces the policy files and updates the schedules)`,
      options,
    );
  }
}
