/**
 * One agent's token bucket, shared by every process on the bus: refills continuously at `perSecond`
 * up to `burst`, on Redis's clock (TIME), so processes whose clocks disagree still share one bucket.
 * A process takes tokens in chunks and spends them locally; what it did not spend in time it gives
 * back on its next take.
 *
 * KEYS[1]  the agent's bucket (a hash: t = tokens, a = when they were counted, in ms)
 * ARGV[1]  tokens per second
 * ARGV[2]  burst (the most the bucket holds)
 * ARGV[3]  tokens wanted
 * ARGV[4]  tokens given back first
 * Returns  {granted, ms until the bucket next holds a whole token (0 if it does)}
 */
export const RATE_TAKE_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local give = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local held = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = burst
if held[1] then
  tokens = tonumber(held[1]) + math.max(0, now - tonumber(held[2])) * rate / 1000
end
tokens = math.min(burst, tokens + give)
local granted = math.max(0, math.min(want, math.floor(tokens)))
tokens = tokens - granted
local wait = 0
if tokens < 1 then wait = math.max(1, math.ceil((1 - tokens) * 1000 / rate)) end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'a', string.format('%.17g', now))
-- gone once it would be full again (a missing bucket is a full one); at most ~24 days
local full = math.min(2147483647, math.ceil((burst - tokens) * 1000 / rate) + 1000)
redis.call('PEXPIRE', KEYS[1], string.format('%d', full))
return {granted, wait}
`;
