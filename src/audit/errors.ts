import { ArsError } from '../util/errors.js';

/** An audit event given to `append` is malformed; nothing was written. */
export class AuditEventError extends ArsError {
  readonly code = 'ARS_AUDIT_EVENT_INVALID';

  constructor(
    readonly kind: string,
    message: string,
  ) {
    super(`audit event '${kind}': ${message}`);
  }
}

/** A value cannot be canonically encoded (undefined, NaN, a Date, a class instance...). */
export class CanonicalEncodingError extends ArsError {
  readonly code = 'ARS_AUDIT_NOT_CANONICAL';

  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path || '(top level)'}: ${message}`);
  }
}

/** The stored chain is inconsistent (e.g. its length differs from the head): appending would extend a broken chain. */
export class AuditIntegrityError extends ArsError {
  readonly code = 'ARS_AUDIT_INTEGRITY';

  constructor(
    readonly length: number,
    readonly headSeq: number,
  ) {
    super(
      `the audit log holds ${length} entries but its head says ${headSeq}; the log was tampered with or truncated. ` +
        'Run `ars audit verify` and restore the log before writing again',
    );
  }
}

/** Appends kept losing the compare-and-set race; the batch was not written. */
export class AuditConflictError extends ArsError {
  readonly code = 'ARS_AUDIT_CONFLICT';

  constructor(readonly attempts: number) {
    super(
      `the audit append lost the race ${attempts} times in a row; raise maxRetries or reduce the number of writers`,
    );
  }
}

/** The signing key could not be loaded or created. */
export class AuditKeyError extends ArsError {
  readonly code = 'ARS_AUDIT_KEY_INVALID';

  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`audit signing key from ${source}: ${message}`);
  }
}
