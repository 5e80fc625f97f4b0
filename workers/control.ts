/**
 * Entry point: the control worker. Settings come from ARS_* variables.
 *   node dist/workers/control.js
 */
import { compileSettings } from '../src/config/index.js';
import { ed25519Provider } from '../src/crypto/index.js';
import { createLogger } from '../src/util/logger.js';
import { installQuietRuntime } from './quiet-runtime.js';
import { runWorkers } from './workers.js';

installQuietRuntime();
const settings = compileSettings();
const logger = createLogger({ name: 'ars-control' });
await runWorkers({
  settings,
  logger,
  roles: ['control'],
  onReady: (queues) =>
    logger.info({ ...queues, hostId: settings.hostId, ed25519: ed25519Provider }, 'workers ready'),
});
