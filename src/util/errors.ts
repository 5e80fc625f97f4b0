/**
 * The root of every ARS error: a stable `code`, a deliberate `name` (Temporal matches failure types
 * by name in `nonRetryableErrorTypes`) and a message that says what was wrong and how to fix it.
 */
export abstract class ArsError extends Error {
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}
