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
 * ARGV[8…] the entries, each P field/value pairs
 * Returns  the new dead-letter entry ids
 */
export const DLQ_ADD_LUA = `
redis.call('HSET', KEYS[2], 'h', ARGV[3], 's', ARGV[4], 'c', ARGV[5], 't', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local per = tonumber(ARGV[7]) * 2
local ids = {}
for at = 8, #ARGV, per do
  local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*'}
  for j = at, at + per - 1 do args[#args + 1] = ARGV[j] end
  ids[#ids + 1] = redis.call(unpack(args))
end
return ids
`;
