/**
 * Entry point: the control worker. Settings come from ARS_* variables.
 *   node dist/workers/control.js
 */
import { compileSettings } from '../src/config/index.js';
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
  onReady: (info) => logger.info(info, 'workers ready'),
});
