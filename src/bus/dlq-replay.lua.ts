/**
 * Replays one dead letter: re-adds the frame it came from to the stream it was bound for, marked
 * with `only` = its index so that only this message is processed, and with `group` = the consumer
 * group it was dead-lettered in so that the other groups of a shared stream (topics, broadcast) ack
 * it unread; points the frame's mark in that group's replay window at the new entry, so that the
 * replay is accepted as the frame's one entry and any other copy is still a replay; and removes the
 * dead letter.
 *
 * KEYS[1]  the dead-letter stream
 * KEYS[2]  the destination stream
 * KEYS[3]  the seen key of the frame in the destination's group
 * KEYS[4]  the frame key named by the dead letter
 * ARGV[1]  dead-letter entry id
 * ARGV[2]  the message's index in the frame
 * ARGV[3]  the consumer group the message was dead-lettered in
 * ARGV[4]  how long the replay window remembers a frame id, ms
 * ARGV[5]  '1' if the destination must still exist (a bus's reply stream: once that bus is gone,
 *          nobody would read it, and XADD would create it again with no expiry)
 * Returns  the new entry id; an error reply 'NOTFOUND', 'NOENVELOPE' or 'NOSTREAM'
 */
export const DLQ_REPLAY_LUA = `
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return redis.error_reply('NOTFOUND') end
local f = redis.call('HMGET', KEYS[4], 'h', 's', 'c', 't')
if not f[1] or not f[3] then return redis.error_reply('NOENVELOPE') end
if ARGV[5] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then return redis.error_reply('NOSTREAM') end
local id = redis.call('XADD', KEYS[2], '*', 'h', f[1], 's', f[2] or '', 'c', f[3], 't', f[4] or '', 'only', ARGV[2], 'group', ARGV[3])
redis.call('SET', KEYS[3], id, 'PX', ARGV[4])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
`;
