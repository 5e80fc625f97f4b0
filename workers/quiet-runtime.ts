import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal SDK runtime once, logging only warnings and errors (the SDK logs every
 * worker state change at INFO otherwise). Must run before the first connection is made.
 */
export function installQuietRuntime(level: 'WARN' | 'ERROR' = 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}
