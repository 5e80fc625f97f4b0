/**
 * Entry point: the host worker. Settings come from ARS_* variables.
 *   node dist/workers/host.js
 */
import { compileSettings } from '../src/config/index.js';
import { ed25519Provider } from '../src/crypto/index.js';
import { createLogger } from '../src/util/logger.js';
import { installQuietRuntime } from './quiet-runtime.js';
import { runWorkers } from './workers.js';

installQuietRuntime();
const settings = compileSettings();
const logger = createLogger({ name: 'ars-host' });
await runWorkers({
  settings,
  logger,
  roles: ['host'],
  onReady: (queues) =>
    logger.info({ ...queues, hostId: settings.hostId, ed25519: ed25519Provider }, 'workers ready'),
});
