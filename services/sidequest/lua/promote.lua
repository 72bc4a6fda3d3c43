-- promote.lua: move due jobs from the schedule or retry set onto their queues. Each
-- member moves only if this call removed it, so many schedulers may race safely.
--
-- KEYS[1]    schedule or retry              ZSET
-- KEYS[2]    queues                         SET
-- KEYS[3..]  queue:<name> for each entry, aligned with the ARGV entries
-- ARGV[1..]  per entry 3 values: member as stored in KEYS[1], queue name, payload to push
--            (the member with `enqueued_at` set). A payload holding `"throttled_at":`
--            was refused by a rate limit (limit_acquire.lua) and waited only for its next
--            start: it goes to the front of its queue (RPUSH), the others to the back.
-- Returns    how many jobs moved
-- Cost       O(entries * log N)

local moved = 0
local entry = 0
for at = 1, #ARGV, 3 do
  if redis.call('ZREM', KEYS[1], ARGV[at]) == 1 then
    redis.call('SADD', KEYS[2], ARGV[at + 1])
    if string.find(ARGV[at + 2], '"throttled_at":', 1, true) then
      redis.call('RPUSH', KEYS[3 + entry], ARGV[at + 2])
    else
      redis.call('LPUSH', KEYS[3 + entry], ARGV[at + 2])
    end
    moved = moved + 1
  end
  entry = entry + 1
end
return moved
