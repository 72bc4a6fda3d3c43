-- requeue.lua: put executions of this process back at the front of their queues
-- (the right end, where workers take from), e.g. at shutdown or when quieting.
--
-- KEYS[1]    sidequest:inflight:<identity>  HASH
-- KEYS[2..]  queue:<name>                   the queue of each field, aligned with ARGV
-- ARGV[1..]  in-flight fields, in the order to push: the last one pushed runs first
-- Returns    how many jobs went back (a field already gone was recovered elsewhere)
-- Cost       O(number of fields)

local moved = 0
for i = 1, #ARGV do
  local job = redis.call('HGET', KEYS[1], ARGV[i])
  if job then
    redis.call('HDEL', KEYS[1], ARGV[i], 'started:' .. ARGV[i])
    redis.call('RPUSH', KEYS[i + 1], job)
    moved = moved + 1
  end
end
return moved
