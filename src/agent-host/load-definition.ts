import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isAgentDefinition, type AgentDefinition } from '../sdk/index.js';
import { ProtocolError } from './errors.js';

/**
 * Imports a handler module and picks the agent definition to serve: the one whose type is
 * `agentType`, or the module's only definition. Definitions are found among the module's exports
 * (the default export included), and inside an exported array.
 */
export async function loadAgentDefinition(modulePath: string, agentType?: string): Promise<AgentDefinition> {
  const unique = await agentDefinitionsOf(modulePath);
  const chosen = agentType
    ? unique.find((d) => d.type === agentType)
    : unique.length === 1
      ? unique[0]
      : undefined;
  if (!chosen) {
    throw new ProtocolError(
      'ARS_AGENT_MODULE_INVALID',
      `module '${modulePath}' ${agentType ? `exports no agent type '${agentType}'` : `exports ${unique.length} agent definitions`}; it exports ${unique.map((d) => `'${d.type}'`).join(', ') || 'none'} — pass --type <type> (ARS_AGENT_TYPE) to choose one`,
    );
  }
  return chosen;
}

/**
 * Imports a handler module and returns the agent definitions it exports (the default export and
 * exported arrays included), one per agent type.
 */
export async function agentDefinitionsOf(modulePath: string): Promise<AgentDefinition[]> {
  const url = pathToFileURL(isAbsolute(modulePath) ? modulePath : resolve(modulePath)).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const found: AgentDefinition[] = [];
  for (const value of Object.values(mod)) {
    if (isAgentDefinition(value)) found.push(value);
    else if (Array.isArray(value)) found.push(...value.filter(isAgentDefinition));
  }
  return [...new Map(found.map((d) => [d.type, d])).values()];
}
