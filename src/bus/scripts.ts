import { createHash } from 'node:crypto';
import type { RedisCommander } from '../crypto/index.js';

const shas = new Map<string, string>();

/**
 * Runs a Lua script by its SHA-1 (EVALSHA), so the script text crosses the wire only once per
 * Redis server; on NOSCRIPT (first use, or after a restart or SCRIPT FLUSH) it falls back to EVAL,
 * which also caches the script on the server.
 */
export async function runScript<T>(
  redis: RedisCommander,
  script: string,
  keys: readonly (string | Buffer)[],
  args: readonly (string | Buffer)[],
): Promise<T> {
  let sha = shas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  const tail = [String(keys.length), ...keys, ...args];
  try {
    return await redis.sendCommand<T>(['EVALSHA', sha, ...tail]);
  } catch (error) {
    if (!String((error as Error)?.message).includes('NOSCRIPT')) throw error;
    return redis.sendCommand<T>(['EVAL', script, ...tail]);
  }
}
