/**
 * Errors of the schedule area: an unknown schedule name, a name already in use, and a schedule whose
 * agent the policies would not admit (nothing is created).
 */
import { ArsError } from '../util/errors.js';

/** No ARS schedule with this name exists (never created, or deleted). */
export class ScheduleNotFoundError extends ArsError {
  readonly code = 'ARS_SCHEDULE_NOT_FOUND';

  constructor(
    readonly scheduleName: string,
    options?: { cause?: unknown },
  ) {
    super(`schedule '${scheduleName}' not found; list the schedules with 'ars schedule ls'`, options);
  }
}

/** A schedule with this name already exists; nothing was changed. */
export class ScheduleExistsError extends ArsError {
  readonly code = 'ARS_SCHEDULE_EXISTS';

  constructor(
    readonly scheduleName: string,
    options?: { cause?: unknown },
  ) {
    super(
      `schedule '${scheduleName}' already exists; choose another name, or delete it first with 'ars schedule delete ${scheduleName}'`,
      options,
    );
  }
}

/** The creation or allocation hook denies the schedule's agent; no schedule was created. */
export class SchedulePolicyDeniedError extends ArsError {
  readonly code = 'ARS_SCHEDULE_POLICY_DENIED';

  constructor(
    readonly scheduleName: string,
    readonly agentName: string,
    /** Ids of the policies that decided (forbids that matched); empty when no permit matched. */
    readonly reasons: readonly string[],
    /** Engine errors (a broken policy file, ...): with errors the engine fails closed. */
    readonly errors: readonly string[],
  ) {
    super(
      `schedule '${scheduleName}' was not created: policy denies creating agent '${agentName}' (${
        reasons.length > 0
          ? `forbidden by ${reasons.join(', ')}`
          : 'no policy permits it with these limits, tier and risk'
      }${errors.length > 0 ? `; errors: ${errors.join('; ')}` : ''})`,
    );
  }
}
