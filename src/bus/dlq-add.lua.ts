/**
 * Dead-letters messages of one received frame, atomically: keeps the frame (still signed and
 * encrypted) once under its own key, then appends one dead-letter entry per message, each naming
 * the frame key and its index in the frame.
 *
 * KEYS[1]  the dead-letter stream
 * KEYS[2]  the frame key (`{prefix}:dlqf:{stream}:{entry id}`), a hash with fields h, s, c, t
 * ARGV[1]  approximate cap of the dead-letter stream (MAXLEN ~)
 * ARGV[2]  how long the frame key lives, ms
 * ARGV[3]  h   ARGV[4]  s   ARGV[5]  c   ARGV[6]  t   (the frame's fields)
 * ARGV[7]  P, the number of field/value pairs of each dead-letter entry
 * ARGV[8…] the entries, each a mark field (`{group}:{index in the frame}`) then P field/value pairs
 * Returns  the new dead-letter entry ids
 *
 * Idempotent: each letter sets its mark field in the frame key first, and one already marked is not
 * added again — a frame that comes back (a crash, a consumer stopping mid-frame) and is judged again
 * does not dead-letter the same message twice.
 */
export const DLQ_ADD_LUA = `
redis.call('HSET', KEYS[2], 'h', ARGV[3], 's', ARGV[4], 'c', ARGV[5], 't', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local per = tonumber(ARGV[7]) * 2
local ids = {}
for at = 8, #ARGV, per + 1 do
  if redis.call('HSETNX', KEYS[2], 'l:' .. ARGV[at], '1') == 1 then
    local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
    for j = at + 1, at + per do args[#args + 1] = ARGV[j] end
    ids[#ids + 1] = redis.call(unpack(args))
  end
end
return ids
`;
