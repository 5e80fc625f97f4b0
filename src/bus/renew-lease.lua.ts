/**
 * Renews this consumer's hold on entries it is still handling: resets their idle time (XCLAIM …
 * JUSTID, which does not count a delivery) so that XAUTOCLAIM elsewhere does not take them over while
 * a slow handler runs. Only entries still pending for this very consumer are touched: one that another
 * consumer has already reclaimed, or that is acked, is left alone.
 *
 * With a delivery count (before a failed handler is run again in place), it is recorded too
 * (RETRYCOUNT, never lowered), so that a crash during the retries does not restart the count.
 *
 * KEYS[1]  the stream
 * ARGV[1]  consumer group
 * ARGV[2]  consumer name
 * ARGV[3]  delivery count to record, or '' to leave the count alone
 * ARGV[4…] entry ids
 * Returns  how many entries were renewed (still this consumer's)
 */
export const RENEW_LEASE_LUA = `
local count = tonumber(ARGV[3])
local renewed = 0
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    if count then
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'RETRYCOUNT', math.max(count, p[1][4]), 'JUSTID')
    else
      redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    end
    renewed = renewed + 1
  end
end
return renewed
`;
