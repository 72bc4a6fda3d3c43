-- limit_release.lua: give back the concurrency slots of finished executions and, for
-- each slot that is free now, move the oldest parked job of that key to the front of
-- its queue (the right end, taken next), where an idle worker's waiter lands it at once.
--
-- KEYS[1]    sidequest:limits:waiting       SET   SREM a key whose parked list emptied
-- KEYS[2]    queues                         SET
-- KEYS[3..]  per slot given back two keys: sidequest:limits:slots:<key> (ZSET) and
--            sidequest:limits:parked:<key> (LIST)
-- ARGV[1]    queue key prefix ("queue:"): a parked job goes to <prefix><its queue>
--            (written, undeclared: single-instance Redis only)
-- ARGV[2..]  per slot 3 values: holder id "<identity>|<n>", key, to
-- Returns    how many parked jobs went back to their queues
-- Cost       per slot a ZREM and an LLEN when nothing is parked; plus O(1) per job woken

local woken = 0
local slots_given = (#KEYS - 2) / 2

for i = 0, slots_given - 1 do
  local slots, parked = KEYS[3 + i * 2], KEYS[4 + i * 2]
  local holder, name, to = ARGV[2 + i * 3], ARGV[3 + i * 3], tonumber(ARGV[4 + i * 3])
  redis.call('ZREM', slots, holder)
  local waiting = redis.call('LLEN', parked)
  if waiting > 0 then
    local time = redis.call('TIME')
    redis.call('ZREMRANGEBYSCORE', slots, '-inf', tonumber(time[1]) + tonumber(time[2]) / 1000000)
    local wake = math.min(to - redis.call('ZCARD', slots), waiting)
    for _ = 1, wake do
      local job = redis.call('RPOP', parked)
      local ok, decoded = pcall(cjson.decode, job)
      local queue = 'default'
      if ok and type(decoded) == 'table' and type(decoded['queue']) == 'string' then
        queue = decoded['queue']
      end
      redis.call('RPUSH', ARGV[1] .. queue, job)
      redis.call('SADD', KEYS[2], queue)
      woken = woken + 1
    end
    if wake >= waiting then
      redis.call('SREM', KEYS[1], name)
    end
  end
end
return woken
