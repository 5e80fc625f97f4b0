/**
 * Trims a shared stream (topics, broadcast) to what every group still needs: entries below the
 * slowest group's floor — its oldest pending entry, or its last delivered entry when nothing is
 * pending — are done for every group and are deleted (XTRIM MINID ~). A stream no group reads is not
 * trimmed by position. Then, only if the stream still holds more than the cap (a group far behind,
 * or gone for good without being removed), it is cut to the cap, and each group that loses entries it
 * had not finished is moved past them — its lost pending entries acked, its last delivered id set
 * just below the first entry kept — and reported, with the range it lost, for a dead letter. So a
 * group loses each entry at most once, and is reported once for it.
 *
 * Reports are coalesced per group (KEYS[2], a hash group → record): a group's first cut is reported
 * at once; a cut within ARGV[3] ms of its last report is recorded instead (`at|from|upto`: the time of
 * that report and the range lost since), and reported whole by the first run — cut or not — once the
 * interval has passed. A record only grows while the group stays where the previous cut left it (it
 * read nothing since, so the ranges join up: its floor is just below the first entry that cut kept,
 * or that entry itself while it is pending); a group that moved on gets its recorded range reported
 * at once, so no letter names an entry the group handled. So a group nobody reads any more costs one
 * dead letter per interval, not one per cut. A group that no longer exists gets its recorded range
 * reported, then its record is dropped.
 *
 * Stream ids are compared and decremented as decimal strings (exact for any 64-bit part).
 *
 * KEYS[1]  the stream
 * KEYS[2]  its report records
 * ARGV[1]  the cap (sharedStreamMaxLen)
 * ARGV[2]  now, ms
 * ARGV[3]  least time between two reports of one group, ms (trimmedReportMs)
 * Returns  {entries trimmed below the floor, entries cut by the cap, then per report: group, the
 *          first entry it lost, the first entry kept after its losses}
 */
export const TRIM_SHARED_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0} end
local function split(id)
  local d = string.find(id, '-', 1, true)
  return string.sub(id, 1, d - 1), string.sub(id, d + 1)
end
local function numLess(a, b) return #a < #b or (#a == #b and a < b) end
local function less(a, b)
  local am, as = split(a)
  local bm, bs = split(b)
  return numLess(am, bm) or (am == bm and numLess(as, bs))
end
-- n - 1 for a decimal n > 0 without leading zeros
local function dec(n)
  local i = #n
  while string.sub(n, i, i) == '0' do i = i - 1 end
  local r = string.sub(n, 1, i - 1) .. (tonumber(string.sub(n, i, i)) - 1) .. string.rep('9', #n - i)
  r = string.gsub(r, '^0+(%d)', '%1')
  return r
end
-- the greatest id below id
local function below(id)
  local m, s = split(id)
  if s ~= '0' then return m .. '-' .. dec(s) end
  return dec(m) .. '-18446744073709551615'
end
local floors = {}
local floor = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, pending, last
  for i = 1, #g, 2 do
    local k = g[i]
    if k == 'name' then name = g[i + 1]
    elseif k == 'pending' then pending = g[i + 1]
    elseif k == 'last-delivered-id' then last = g[i + 1] end
  end
  local f = last
  if pending > 0 then f = redis.call('XPENDING', KEYS[1], name)[2] end
  floors[#floors + 1] = {name, f, last, pending > 0}
  if floor == nil or less(f, floor) then floor = f end
end
local trimmed = 0
if floor then trimmed = redis.call('XTRIM', KEYS[1], 'MINID', '~', floor) end
local out = {trimmed, 0}
local now, every = tonumber(ARGV[2]), tonumber(ARGV[3])
local function record(name)
  local rec = redis.call('HGET', KEYS[2], name)
  if not rec then return nil, nil, nil end
  local a = string.find(rec, '|', 1, true)
  if not a then return tonumber(rec), nil, nil end
  local b = string.find(rec, '|', a + 1, true)
  return tonumber(string.sub(rec, 1, a - 1)), string.sub(rec, a + 1, b - 1), string.sub(rec, b + 1)
end
local function report(name, from, upto)
  out[#out + 1] = name
  out[#out + 1] = from
  out[#out + 1] = upto
end
-- due reports of earlier cuts; a group that is gone gets its recorded range reported, then no record
local live = {}
for _, nf in ipairs(floors) do live[nf[1]] = true end
for _, name in ipairs(redis.call('HKEYS', KEYS[2])) do
  local at, from, upto = record(name)
  if not live[name] then
    if from then report(name, from, upto) end
    redis.call('HDEL', KEYS[2], name)
  elseif from and now - at >= every then
    report(name, from, upto)
    redis.call('HSET', KEYS[2], name, tostring(now))
  end
end
if redis.call('XLEN', KEYS[1]) > tonumber(ARGV[1]) then
  out[2] = redis.call('XTRIM', KEYS[1], 'MAXLEN', ARGV[1])
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1][1]
  local cut = below(first)
  for _, nf in ipairs(floors) do
    local name = nf[1]
    if less(nf[2], first) then
      -- its pending entries below the cut are gone: ack them, so they are not reclaimed as deleted
      while true do
        local p = redis.call('XPENDING', KEYS[1], name, '-', '(' .. first, 1000)
        if #p == 0 then break end
        local ids = {}
        for _, e in ipairs(p) do ids[#ids + 1] = e[1] end
        redis.call('XACK', KEYS[1], name, unpack(ids))
      end
      if less(nf[3], first) then redis.call('XGROUP', 'SETID', KEYS[1], name, cut) end
      local at, from, upto = record(name)
      if from and nf[2] ~= below(upto) and not (nf[4] and nf[2] == upto) then
        -- the group moved on since the recorded cut: that range is complete, report it now
        report(name, from, upto)
        at, from = now, nil
      end
      if at == nil or now - at >= every then
        report(name, from or nf[2], first)
        redis.call('HSET', KEYS[2], name, tostring(now))
      else
        redis.call('HSET', KEYS[2], name, at .. '|' .. (from or nf[2]) .. '|' .. first)
      end
    end
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], every * 2 + 86400000) end
return out
`;
