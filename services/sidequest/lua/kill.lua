-- kill.lua: move one entry from a sorted set (retry or schedule) to the dead set, but
-- only if this call removed it (two people clicking "kill" bury it once).
--
-- KEYS[1]  the source set (retry or schedule)   ZSET
-- KEYS[2]  dead                                  ZSET
-- ARGV[1]  member as stored in KEYS[1]
-- ARGV[2]  payload to store in the dead set (with the error fields)
-- ARGV[3]  now, float epoch seconds
-- ARGV[4]  dead set: most entries kept    ARGV[5] dead set: drop scores at or below
-- ARGV[6]  bid of the job's batch, "" for none (then ARGV[7..] may be absent)
-- ARGV[7]  member jid    ARGV[8..12] batch context (batch_lib.lua): the death counts
-- Returns  1 when moved, 0 when the member was already gone
-- Cost     O(log N)

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[5])
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[4]) + 1))
if #ARGV >= 12 and ARGV[6] ~= '' then
  batch_lib(8).dead(ARGV[6], ARGV[7])
end
return 1
