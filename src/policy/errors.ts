import { ArsError } from '../util/errors.js';

/** A policy or schema file could not be parsed or does not validate against the schema. */
export class PolicyLoadError extends ArsError {
  readonly code = 'ARS_POLICY_LOAD_FAILED';

  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${detail}`);
  }
}

/** A request given to the policy engine is malformed (unknown entity type, bad reference...). */
export class PolicyRequestError extends ArsError {
  readonly code = 'ARS_POLICY_REQUEST_INVALID';

  constructor(
    readonly subject: string,
    message: string,
  ) {
    super(`${subject}: ${message}`);
  }
}
