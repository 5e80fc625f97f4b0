/** Names of every Redis key the bus uses, under one prefix. */
export interface StreamKeys {
  inbox(agentId: string): string;
  /** Where replies to the requests `agentId` made on the bus tagged `tag` go (replies.ts). */
  replies(agentId: string, tag: string): string;
  readonly topics: string;
  readonly broadcast: string;
  readonly dlq: string;
  readonly agents: string;
  seen(stream: string, group: string, messageId: string): string;
  done(stream: string, group: string, messageId: string): string;
  /** Where a dead-lettered frame is kept for replay. */
  dlqFrame(stream: string, entryId: string): string;
  /** An agent's send-rate token bucket, shared by every process on the bus. */
  rate(agentId: string): string;
}

export function streamKeys(prefix: string): StreamKeys {
  return {
    inbox: (agentId) => `${prefix}:inbox:${agentId}`,
    // agent ids hold no ':', so this is never an inbox
    replies: (agentId, tag) => `${prefix}:inbox:${agentId}:r:${tag}`,
    topics: `${prefix}:topics`,
    broadcast: `${prefix}:broadcast`,
    dlq: `${prefix}:dlq`,
    agents: `${prefix}:agents`,
    seen: (stream, group, id) => `${prefix}:seen:${stream}:${group}:${id}`,
    done: (stream, group, id) => `${prefix}:done:${stream}:${group}:${id}`,
    dlqFrame: (stream, entryId) => `${prefix}:dlqf:${stream}:${entryId}`,
    rate: (agentId) => `${prefix}:rate:${agentId}`,
  };
}

/** True for a bus's reply stream (`StreamKeys.replies`), which only that bus reads. */
export const isReplyStream = (stream: string): boolean => /:inbox:[^:]+:r:[0-9a-f]{16}$/.test(stream);

/** Keystore owner of an agent's keys, and of the shared topic/broadcast encryption key. */
export const agentKeyOwner = (agentId: string): string => `agent:${agentId}`;
export const TOPICS_KEY_OWNER = 'bus:topics';
export const BROADCAST_KEY_OWNER = 'bus:broadcast';
