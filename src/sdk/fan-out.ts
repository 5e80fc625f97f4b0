import type { PublishResult } from './context.js';

/** The stable code of an ARS error, or 'ERROR' (publish results name refusals by code). */
function errorCode(reason: unknown): string {
  const code =
    typeof reason === 'object' && reason !== null ? (reason as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'ERROR';
}

/**
 * Delivers one message to every target at once, as publish does in every runtime: the agent ids
 * that accepted it, and those that refused it with the error code. Never rejects.
 */
export async function fanOut(
  targets: readonly string[],
  deliver: (agentId: string) => Promise<unknown>,
): Promise<PublishResult> {
  const outcomes = await Promise.allSettled(targets.map(deliver));
  const deliveredTo: string[] = [];
  const rejected: { agentId: string; code: string }[] = [];
  outcomes.forEach((outcome, i) => {
    const id = targets[i] as string;
    if (outcome.status === 'fulfilled') deliveredTo.push(id);
    else rejected.push({ agentId: id, code: errorCode(outcome.reason) });
  });
  return { deliveredTo, rejected };
}
