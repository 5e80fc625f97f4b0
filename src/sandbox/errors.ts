import { ArsError } from '../util/errors.js';

/** The requested tier cannot run on this host (runtime missing, no KVM, in-process tier). Not retryable. */
export class SandboxUnavailableError extends ArsError {
  readonly code = 'ARS_SANDBOX_UNAVAILABLE';

  constructor(
    readonly tier: string,
    message: string,
  ) {
    super(message);
  }
}

/** The sandbox image is not present and cannot be pulled. Not retryable. */
export class SandboxImageMissingError extends ArsError {
  readonly code = 'ARS_SANDBOX_IMAGE_MISSING';

  constructor(readonly image: string) {
    super(
      `sandbox image '${image}' is not on this host and could not be pulled; run 'ars up' to build ars-sandbox:local, or set sandbox.image / ARS_SANDBOX_IMAGE to an image this host has`,
    );
  }
}

/** A container that the runtime owns vanished or cannot be used any more. */
export class SandboxLostError extends ArsError {
  readonly code = 'ARS_SANDBOX_LOST';

  constructor(
    readonly containerId: string,
    message: string,
  ) {
    super(message);
  }
}

/** Names used in activities' retry policies: these failures are final, retrying cannot help. */
export const NON_RETRYABLE_SANDBOX_ERRORS = [
  'SandboxUnavailableError',
  'SandboxImageMissingError',
  'ConfigError',
];
