/**
 * Replays one dead letter: re-adds the frame it came from to the stream it was bound for, marked
 * with `only` = its index so that only this message is processed, forgets the frame in the replay
 * window of that stream's group so the replay is not itself rejected as a replay, and removes the
 * dead letter.
 *
 * KEYS[1]  the dead-letter stream
 * KEYS[2]  the destination stream
 * KEYS[3]  the seen key of the frame in the destination's group
 * KEYS[4]  the frame key named by the dead letter
 * ARGV[1]  dead-letter entry id
 * ARGV[2]  the message's index in the frame
 * Returns  the new entry id; an error reply 'NOTFOUND' or 'NOENVELOPE'
 */
export const DLQ_REPLAY_LUA = `
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #rows == 0 then return redis.error_reply('NOTFOUND') end
local f = redis.call('HMGET', KEYS[4], 'h', 's', 'c', 't')
if not f[1] or not f[3] then return redis.error_reply('NOENVELOPE') end
local id = redis.call('XADD', KEYS[2], '*', 'h', f[1], 's', f[2] or '', 'c', f[3], 't', f[4] or '', 'only', ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('XDEL', KEYS[1], ARGV[1])
return id
`;
