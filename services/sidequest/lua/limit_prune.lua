-- limit_prune.lua: drop limit keys nobody uses any more from the index of limits, so that
-- the index stays as large as the keys in use (keys built per account or per tenant
-- would otherwise pile up there forever). A key is unused when it has no slot holder
-- and no parked job (concurrency) or no start in its window (rate); a key used again
-- is written back by its next admission.
--
-- KEYS[1]    sidequest:limits:concurrency   HASH
-- KEYS[2]    sidequest:limits:rate          HASH
-- KEYS[3..]  per concurrency key two keys, sidequest:limits:slots:<key> and
--            sidequest:limits:parked:<key>; then per rate key
--            sidequest:limits:starts:<key>
-- ARGV[1]    number of concurrency keys c
-- ARGV[2..]  the c concurrency keys, then the rate keys
-- Returns    how many index entries were dropped
-- Cost       O(keys + lapsed holders)

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local concurrency = tonumber(ARGV[1])
local dropped = 0
for i = 1, concurrency do
  local slots, parked = KEYS[1 + i * 2], KEYS[2 + i * 2]
  -- Holders past their lapse (a process that vanished) hold nothing any more.
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('EXISTS', slots) == 0 and redis.call('EXISTS', parked) == 0 then
    dropped = dropped + redis.call('HDEL', KEYS[1], ARGV[1 + i])
  end
end
local first_rate = 3 + concurrency * 2
for at = 2 + concurrency, #ARGV do
  if redis.call('EXISTS', KEYS[first_rate + at - 2 - concurrency]) == 0 then
    dropped = dropped + redis.call('HDEL', KEYS[2], ARGV[at])
  end
end
return dropped
