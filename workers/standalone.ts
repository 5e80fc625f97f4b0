/**
 * Entry point: the standalone workers (control and host in one process). Settings come from ARS_* variables.
 *   node dist/workers/standalone.js
 */
import { compileSettings } from '../src/config/index.js';
import { createLogger } from '../src/util/logger.js';
import { installQuietRuntime } from './quiet-runtime.js';
import { runWorkers } from './workers.js';

installQuietRuntime();
const settings = compileSettings();
const logger = createLogger({ name: 'ars-standalone' });
await runWorkers({
  settings,
  logger,
  roles: ['control', 'host'],
  onReady: (info) => logger.info(info, 'workers ready'),
});
