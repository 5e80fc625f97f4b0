import { InvalidAgentIdError } from './errors.js';

/** An agent type name: lower-case letters, digits and dashes, starting with a letter. */
export const AGENT_TYPE_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;
const KEY_PATTERN = /^\S{1,200}$/;

/** An agent id `type/key`, split. */
export interface AgentAddress {
  readonly id: string;
  readonly type: string;
  readonly key: string;
}

/** Splits `type/key` (the key may itself contain `/`), or throws InvalidAgentIdError. */
export function parseAgentId(agentId: string): AgentAddress {
  const slash = agentId.indexOf('/');
  if (slash <= 0) throw new InvalidAgentIdError(agentId);
  const type = agentId.slice(0, slash);
  const key = agentId.slice(slash + 1);
  if (!AGENT_TYPE_PATTERN.test(type) || !KEY_PATTERN.test(key)) throw new InvalidAgentIdError(agentId);
  return { id: agentId, type, key };
}

/** `type/key`. */
export function agentId(type: string, key: string): string {
  return parseAgentId(`${type}/${key}`).id;
}
