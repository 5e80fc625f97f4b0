/**
 * Small shared pieces: the ArsError base class, the structured logger factory and id helpers.
 */
export { ArsError } from './errors.js';
export { createLogger, silentLogger, truncate, type Logger } from './logger.js';
export { randomId } from './ids.js';
export { redisClientOptions, REDIS_URL_FORMS, REDIS_URL_PATTERN } from './redis-url.js';
