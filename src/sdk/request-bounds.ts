import { ArsError } from '../util/errors.js';
import type { RequestOptions } from './context.js';
import { CancelledError, RequestTimeoutError } from './errors.js';

/**
 * Runs `body` under a request's timeout and the caller's abort signal, as every runtime does:
 * `body` gets a signal that aborts on either (to cancel the remote handler); the returned promise
 * rejects at once with RequestTimeoutError or CancelledError, whatever `body` does after.
 */
export async function withRequestBounds<T>(
  to: string,
  type: string,
  options: RequestOptions,
  defaultTimeoutMs: number,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
  const controller = new AbortController();
  const outer = options.signal;
  let rejectAbort!: (error: unknown) => void;
  const aborted = new Promise<never>((_, reject) => (rejectAbort = reject));
  const onAbort = (): void => rejectAbort(controller.signal.reason);
  controller.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => controller.abort(new RequestTimeoutError(to, type, timeoutMs)), timeoutMs);
  const onOuterAbort = (): void =>
    controller.abort(
      outer?.reason instanceof ArsError
        ? outer.reason
        : new CancelledError(to, type, 'the requester cancelled'),
    );
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  try {
    const result = body(controller.signal);
    result.catch(() => undefined); // when the abort wins the race, the late settlement is expected
    return await Promise.race([result, aborted]);
  } finally {
    clearTimeout(timer);
    controller.signal.removeEventListener('abort', onAbort);
    outer?.removeEventListener('abort', onOuterAbort);
    aborted.catch(() => undefined);
  }
}
