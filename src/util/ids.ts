import { randomBytes } from 'node:crypto';

/** A short random, URL- and Docker-name-safe id with an optional prefix: `agent-3f9c1a7b2d4e`. */
export function randomId(prefix = '', bytes = 6): string {
  const id = randomBytes(bytes).toString('hex');
  return prefix ? `${prefix}-${id}` : id;
}
