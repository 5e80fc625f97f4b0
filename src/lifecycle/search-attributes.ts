import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * The search attributes every agent workflow keeps current, so `ars ps` and the Temporal UI can
 * filter agents by state, tier, mode, name and host. `scripts/services.sh up` registers them.
 */
export const SEARCH_ATTRIBUTES = {
  state: defineSearchAttributeKey('ArsState', SearchAttributeType.KEYWORD),
  tier: defineSearchAttributeKey('ArsTier', SearchAttributeType.KEYWORD),
  mode: defineSearchAttributeKey('ArsMode', SearchAttributeType.KEYWORD),
  agentName: defineSearchAttributeKey('ArsAgentName', SearchAttributeType.KEYWORD),
  host: defineSearchAttributeKey('ArsHost', SearchAttributeType.KEYWORD),
} as const;
