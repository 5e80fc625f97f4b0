/**
 * Removes a stopped consumer from its group, atomically, only if it holds no pending entry: its name
 * is random per consume() (bus.ts), so a group would otherwise gain one consumer per start for good.
 * A consumer that still holds entries (read ahead but not handled, or a handler that failed) stays:
 * XGROUP DELCONSUMER would drop those entries from the group's pending list, and they must come back
 * to another consumer after the visibility timeout (XAUTOCLAIM), which leaves it with none.
 *
 * KEYS[1]  the stream
 * ARGV[1]  consumer group
 * ARGV[2]  consumer name
 * Returns  1 when the consumer was removed, 0 when it holds entries (or the group is gone)
 */
export const FORGET_CONSUMER_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ok, pending = pcall(redis.call, 'XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if not ok or #pending > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;
