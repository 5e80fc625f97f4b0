/**
 * Before a failed handler is run again in place: records the attempt in the entry's delivery count
 * (XCLAIM … RETRYCOUNT n JUSTID, which also resets its idle time), so that a crash during the retries
 * does not restart the count. Only an entry still pending for this very consumer is touched; one that
 * another consumer took over meanwhile (a lapsed lease) is left alone, and the caller stops.
 *
 * KEYS[1]  the stream
 * ARGV[1]  consumer group
 * ARGV[2]  consumer name
 * ARGV[3]  entry id
 * ARGV[4]  delivery count to record (never lowered)
 * Returns  1 when the entry is still this consumer's, else 0
 */
export const RETRY_COUNT_LUA = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if not p[1] or p[1][2] ~= ARGV[2] then return 0 end
local n = math.max(tonumber(ARGV[4]), p[1][4])
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'RETRYCOUNT', n, 'JUSTID')
return 1
`;
