-- limit_sweep.lua: the safety net of one concurrency key with parked jobs, run by every
-- worker once per heartbeat interval: drop holders whose slot lapsed (`duration` past
-- their last refresh) or whose process lost its lease (killed: its jobs are recovered),
-- then wake as many parked jobs as slots are free. Releases wake parked jobs at once;
-- this catches the slots no release gives back.
--
-- KEYS[1]  sidequest:limits:waiting        SET   SREM the key once nothing is parked
-- KEYS[2]  queues                          SET
-- KEYS[3]  sidequest:limits:concurrency    HASH  key -> to
-- KEYS[4]  sidequest:limits:slots:<key>    ZSET
-- KEYS[5]  sidequest:limits:parked:<key>   LIST
-- ARGV[1]  the key
-- ARGV[2]  lease key prefix (read, undeclared: see limit_acquire.lua)
-- ARGV[3]  queue key prefix (written, undeclared: see limit_release.lua)
-- Returns  how many parked jobs went back to their queues
-- Cost     O(holders + jobs woken)

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local waiting = redis.call('LLEN', KEYS[5])
if waiting == 0 then
  redis.call('SREM', KEYS[1], ARGV[1])
  return 0
end
local to = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
for _, holder in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  local identity = string.match(holder, '^(.*)|[^|]*$')
  if identity and redis.call('EXISTS', ARGV[2] .. identity) == 0 then
    redis.call('ZREM', KEYS[4], holder)
  end
end
local wake = math.min(to - redis.call('ZCARD', KEYS[4]), waiting)
local woken = 0
for _ = 1, wake do
  local job = redis.call('RPOP', KEYS[5])
  local ok, decoded = pcall(cjson.decode, job)
  local queue = 'default'
  if ok and type(decoded) == 'table' and type(decoded['queue']) == 'string' then
    queue = decoded['queue']
  end
  redis.call('RPUSH', ARGV[3] .. queue, job)
  redis.call('SADD', KEYS[2], queue)
  woken = woken + 1
end
if woken >= waiting then
  redis.call('SREM', KEYS[1], ARGV[1])
end
return woken
