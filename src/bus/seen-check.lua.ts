/**
 * Replay check over the frames of one read, atomically: for each frame id, remember which stream
 * entry first carried it. A redelivery of the same entry is fine; the same frame in another entry
 * is a replay.
 *
 * KEYS[i]    seen key of frame i (`{prefix}:seen:{stream}:{group}:{frame id hex}`)
 * ARGV[1]    how long to remember a frame id, ms (the replay window)
 * ARGV[i+1]  stream entry id that carries frame i
 * Returns    an array, per key: 0 = first sighting or redelivery of the same entry, 1 = replayed
 */
export const SEEN_CHECK_LUA = `
local out = {}
for i, k in ipairs(KEYS) do
  local entry = ARGV[i + 1]
  local v = redis.call('GET', k)
  if not v then
    redis.call('SET', k, entry, 'PX', ARGV[1])
    out[i] = 0
  elseif v == entry then
    out[i] = 0
  else
    out[i] = 1
  end
end
return out
`;
