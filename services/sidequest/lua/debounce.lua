-- debounce.lua: schedule a job at the end of its debounce window, replacing the pending
-- job of the same debounce key if one still waits in `schedule` (the later enqueue's
-- arguments and jid win). A burst of enqueues runs once, at the end of the window of its
-- last enqueue, but never later than `cap` seconds after the burst's first enqueue, so
-- a steady stream still runs. A pending job already promoted to its queue (or running)
-- is left alone: this enqueue starts a new burst.
--
-- KEYS[1]  sidequest:debounce:<key>  HASH  jid, member (the payload in `schedule`), first
-- KEYS[2]  schedule                  ZSET
-- KEYS[3]  sidequest:flow-stats      HASH  field `debounced` counts replaced jobs
-- ARGV[1]  now, float epoch seconds (the enqueuing host's clock, as for any scheduled job)
-- ARGV[2]  window, seconds           ARGV[3]  cap (debounce_max), seconds, >= window
-- ARGV[4]  jid of the new job        ARGV[5]  payload of the new job
-- ARGV[6]  channel to publish the due time on (the schedulers' wakeup)
-- Returns  {due time (float epoch seconds, as a string), jid of the replaced job or ""}
-- Cost     O(log N) in the size of `schedule`

local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local first = now
local replaced = ''

local pending = redis.call('HMGET', KEYS[1], 'jid', 'member', 'first')
if pending[2] and redis.call('ZREM', KEYS[2], pending[2]) == 1 then
  first = tonumber(pending[3]) or now
  replaced = pending[1] or ''
  redis.call('HINCRBY', KEYS[3], 'debounced', 1)
end

local due = math.min(now + window, first + cap)
local score = string.format('%.6f', due)
redis.call('ZADD', KEYS[2], score, ARGV[5])
redis.call('HSET', KEYS[1], 'jid', ARGV[4], 'member', ARGV[5], 'first', string.format('%.6f', first))
-- Kept until the burst's cap has passed (plus a minute for a late scheduler); after
-- that a new enqueue starts a new burst anyway.
redis.call('PEXPIRE', KEYS[1], math.ceil((first + cap - now + 60) * 1000))
-- Only a wakeup (schedulers look every second anyway): pcall, as push_unique.lua.
redis.pcall('PUBLISH', ARGV[6], score)
return {score, replaced}
