/**
 * The replay check of the entries a blocking XREADGROUP has just handed to one consumer, pipelined
 * right behind that read on the consumer's own connection: Redis runs it the moment the read
 * returns, so its answer arrives with the entries and costs no extra round trip (docs/bus.md,
 * "Request/response latency"). Same rule as seen-check.lua.ts: for each frame id remember which
 * stream entry first carried it; a redelivery of the same entry is fine, another entry is a replay.
 *
 * The entries are found as this consumer's pending entries with ids above the highest id it has
 * processed (a read with '>' only hands out ids above everything the group handed out before), at
 * most ARGV[4] of them. The frame id is taken from the entry's plain `f` field (the hex frame id the
 * sender writes beside the signed header): the consumer uses an answer only for a frame whose signed
 * frame id equals that `f`, and checks every other frame (no `f`, a different `f`, beyond the cap)
 * with seen-check.lua.ts, so a forged `f` gains nothing.
 *
 * The seen keys are built here from ARGV[5] rather than passed as KEYS (the frame ids are not known
 * before the read): like the bus's other multi-key scripts this needs a standalone Redis, not Cluster.
 *
 * KEYS[1]  the stream
 * ARGV[1]  consumer group
 * ARGV[2]  consumer name
 * ARGV[3]  lowest entry id to consider, XPENDING range syntax ('(' + id for "above id", or '-')
 * ARGV[4]  most entries to check
 * ARGV[5]  seen key prefix (`{prefix}:seen:{stream}:{group}:`); the key is prefix + frame id hex
 * ARGV[6]  how long to remember a frame id, ms (the replay window)
 * Returns  a flat array: entry id, flag, entry id, flag, ... with flag 0 = first sighting or
 *          redelivery of the same entry, 1 = replayed; entries without an `f` field are left out
 */
export const SEEN_PENDING_LUA = `
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], '+', ARGV[4], ARGV[2])
local out = {}
for _, p in ipairs(pending) do
  local id = p[1]
  local rows = redis.call('XRANGE', KEYS[1], id, id)
  local row = rows[1]
  if row then
    local fields = row[2]
    local fid = nil
    for i = 1, #fields, 2 do
      if fields[i] == 'f' then fid = fields[i + 1] break end
    end
    if fid and string.len(fid) == 32 and not string.find(fid, '[^0-9a-f]') then
      local k = ARGV[5] .. fid
      local v = redis.call('GET', k)
      out[#out + 1] = id
      if not v then
        redis.call('SET', k, id, 'PX', ARGV[6])
        out[#out + 1] = 0
      elseif v == id then
        out[#out + 1] = 0
      else
        out[#out + 1] = 1
      end
    end
  end
end
return out
`;
