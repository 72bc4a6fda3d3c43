-- periodic_resume.lua: unpause a periodic schedule so that it runs from its next tick on.
-- The ticks that fell due while it was paused are settled, never caught up: running
-- tickers settle them as they pass, and this moves the watermark to now for the case
-- that no worker ran meanwhile.
--
-- KEYS[1]  sidequest:periodic:state:<name>  HASH
-- ARGV[1]  now, whole epoch seconds
-- Returns  1 when it was paused, 0 when it was not (then nothing changes)
-- Cost     O(1)

if redis.call('HDEL', KEYS[1], 'paused') == 0 then
  return 0
end
local watermark = tonumber(redis.call('HGET', KEYS[1], 'watermark') or '')
if watermark == nil or watermark < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'watermark', ARGV[1])
end
return 1
