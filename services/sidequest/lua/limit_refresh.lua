-- limit_refresh.lua: a live process's heartbeat keeps the slots of its running jobs:
-- each holder's lapse moves to now + duration (only if it still holds the slot).
--
-- KEYS[1], KEYS[2], ...  sidequest:limits:slots:<key>  ZSET, one per holding, aligned with ARGV
-- ARGV[1], ARGV[2], ...  per holding 2 values: holder id, duration in seconds
-- Returns    how many holders were still there
-- Cost       O(holdings * log N)

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local kept = 0
for i = 1, #KEYS do
  local holder, seconds = ARGV[i * 2 - 1], tonumber(ARGV[i * 2])
  if redis.call('ZSCORE', KEYS[i], holder) then
    redis.call('ZADD', KEYS[i], string.format('%.6f', now + seconds), holder)
    kept = kept + 1
  end
end
return kept
