/**
 * Compare-and-set append of a batch of sealed entries to the audit chain.
 *
 * KEYS[1]  entries list (entry seq N is at list index N-1)
 * KEYS[2]  head hash: { seq, hash }
 * KEYS[3]  time index: sorted set, member = seq, score = ts
 * KEYS[4 .. 3+n]        kind index of entry i: sorted set, member = score = seq
 * KEYS[4+n .. 3+2n]     agent index of entry i (ignored when ARGV says the entry has no agent)
 * ARGV[1]  expected head seq (0 for an empty log)
 * ARGV[2]  expected head hash ('' for an empty log)
 * ARGV[3]  n, the number of entries
 * ARGV[4 + 4(i-1) .. 7 + 4(i-1)]  for entry i: encoded entry, its hash, its ts, '1' if it has an agent else '0'
 *
 * Returns {1, newSeq, newHash} when appended; {0, headSeq, headHash} when the head moved (the writer
 * re-chains on that head and retries); {-1, listLength, headSeq} when the list length disagrees
 * with the head (a tampered or truncated log: nothing is appended).
 */
export const APPEND_SCRIPT = `
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash')
local seq = tonumber(head[1]) or 0
local hash = head[2] or ''
if seq ~= tonumber(ARGV[1]) or hash ~= ARGV[2] then
  return {0, seq, hash}
end
local len = redis.call('LLEN', KEYS[1])
if len ~= seq then
  return {-1, len, seq}
end
local n = tonumber(ARGV[3])
for i = 1, n do
  local base = 4 + (i - 1) * 4
  seq = seq + 1
  redis.call('RPUSH', KEYS[1], ARGV[base])
  hash = ARGV[base + 1]
  redis.call('ZADD', KEYS[3], ARGV[base + 2], seq)
  redis.call('ZADD', KEYS[3 + i], seq, seq)
  if ARGV[base + 3] == '1' then
    redis.call('ZADD', KEYS[3 + n + i], seq, seq)
  end
end
redis.call('HSET', KEYS[2], 'seq', seq, 'hash', hash)
return {1, seq, hash}
`;
