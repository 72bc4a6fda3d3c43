-- requeue_landed.lua: put landed jobs of this process (runtime/landing.py) that were never
-- adopted into its in-flight hash back at the front of their queues: a job landed
-- after the process quieted, or one still running at shutdown.
--
-- KEYS[1]    sidequest:landing:<identity>   LIST
-- KEYS[2..]  queue:<name>                   the queue of each payload, aligned with ARGV
-- ARGV[1..]  raw payloads, in the order to push: the last one pushed runs first
-- Returns    how many jobs went back (a payload already gone was recovered elsewhere)
-- Cost       O(number of payloads * length of the landing list)

local moved = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[i + 1], ARGV[i])
    moved = moved + 1
  end
end
return moved
