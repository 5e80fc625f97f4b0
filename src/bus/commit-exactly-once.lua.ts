/**
 * Exactly-once commit of one handled message: mark its id done and, for the last message of the
 * frame, acknowledge (and for an inbox delete) the entry in the same atomic step.
 *
 * KEYS[1]  the stream
 * KEYS[2]  the done key of the message (`{prefix}:done:{stream}:{group}:{id}`)
 * ARGV[1]  consumer group
 * ARGV[2]  stream entry id
 * ARGV[3]  how long the done mark lives, ms
 * ARGV[4]  '1' to XACK the entry now, '0' not to
 * ARGV[5]  '1' to also XDEL the entry (single-group inbox streams), '0' not to
 * Returns  1 if this call marked the message done, 0 if it was already done
 */
export const COMMIT_EXACTLY_ONCE_LUA = `
local fresh = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3])
if ARGV[4] == '1' then
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
  if ARGV[5] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
end
if fresh then return 1 else return 0 end
`;
