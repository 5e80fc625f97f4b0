import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Replies go to the process that asked. Each bus has a tag; a request's correlation id carries it
 * (`<uuid>~<tag>`, inside the signed header, so only the requester chooses it), and the answering bus
 * writes the reply to the requester's stream for that tag (`StreamKeys.replies`), which only the
 * asking bus reads. So two processes consuming one agent's inbox each get their own replies.
 */
const TAGGED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}~([0-9a-f]{16})$/;

/** A fresh tag for a bus: 64 random bits, in hex. */
export const newReplyTag = (): string => randomBytes(8).toString('hex');

/** A request's correlation id, naming the bus (`tag`) its reply goes to. */
export const correlationId = (tag: string): string => `${randomUUID()}~${tag}`;

/** The tag of the bus a request's reply goes to, or undefined when its correlation id names none. */
export function replyTagOf(corr: string | null): string | undefined {
  return corr === null ? undefined : TAGGED.exec(corr)?.[1];
}
