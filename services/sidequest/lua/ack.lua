-- ack.lua: acknowledge finished executions: remove them from the in-flight hash,
-- count them as processed and release the unique locks they hold.
--
-- KEYS[1]    sidequest:inflight:<identity>  HASH
-- KEYS[2]    stat:processed                 STRING counter
-- KEYS[3]    stat:processed:<YYYY-MM-DD>    STRING counter with a TTL
-- KEYS[4..]  sidequest:unique:<digest>      locks held by some of the acknowledged jobs
-- ARGV[1]    TTL of the daily counter, seconds
-- ARGV[2]    n: number of acknowledgements
-- ARGV[3..]  n triples: in-flight field, index of its lock in KEYS[4..] (0 = none),
--            jid that must still hold that lock for it to be released
-- Also removes each field's start marker ("started:<field>", see recover.lua).
-- Returns    how many fields were removed. A field that is gone belongs to an execution
--            that was recovered and handed to another process: that ack is refused
--            (fencing), and its lock stays with the other execution.
-- Cost       O(n)

local removed = 0
local n = tonumber(ARGV[2])
for i = 0, n - 1 do
  local at = 3 + i * 3
  if redis.call('HDEL', KEYS[1], ARGV[at]) == 1 then
    redis.call('HDEL', KEYS[1], 'started:' .. ARGV[at])
    removed = removed + 1
    local lock = tonumber(ARGV[at + 1])
    if lock > 0 then
      local key = KEYS[3 + lock]
      if redis.call('GET', key) == ARGV[at + 2] then
        redis.call('DEL', key)
      end
    end
  end
end

if removed > 0 then
  redis.call('INCRBY', KEYS[2], removed)
  redis.call('INCRBY', KEYS[3], removed)
  redis.call('EXPIRE', KEYS[3], ARGV[1])
end
return removed
