-- fail.lua: finish a failed execution: move it from the in-flight hash to the retry set,
-- to the dead set (trimmed by count and age), or nowhere (discarded); count it.
--
-- KEYS[1]  sidequest:inflight:<identity>  HASH
-- KEYS[2]  retry or dead                  ZSET (not written when discarding)
-- KEYS[3]  stat:processed                 KEYS[4] stat:failed
-- KEYS[5]  stat:processed:<YYYY-MM-DD>    KEYS[6] stat:failed:<YYYY-MM-DD>
-- KEYS[7]  sidequest:unique:<digest>      optional: a lock to release if ARGV[8] holds it
-- ARGV[1]  in-flight field of the execution
-- ARGV[2]  mode: "retry", "dead" or "discard"
-- ARGV[3]  score: next attempt (retry) or time of death (dead), float epoch seconds
-- ARGV[4]  payload to store, with the error fields already set
-- ARGV[5]  TTL of the daily counters, seconds
-- ARGV[6]  dead set: most entries kept
-- ARGV[7]  dead set: entries scored at or below this are dropped (too old)
-- ARGV[8]  jid that must hold the lock in KEYS[7] for it to be released
-- ARGV[9]  channel to publish the retry score on (wakes schedulers), "" for none
-- ARGV[10] bid of the job's batch, "" for none (then ARGV[11..] may be absent)
-- ARGV[11] member jid    ARGV[12..16] batch context (batch_lib.lua)
-- Batch    when applied: a retry marks the member failed (retrying); a death or a discard
--          (Sidekiq's retry: false) settles it dead: it failed and will not run again, so
--          on_death fires (once per batch) and on_success never will. A chain stops at
--          anything but success.
-- Returns  1 when applied, 0 when the execution was recovered elsewhere (fenced)
-- Cost     O(log N) in the size of the set

if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[1], 'started:' .. ARGV[1])

local mode = ARGV[2]
if mode == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  if ARGV[9] ~= '' then
    redis.call('PUBLISH', ARGV[9], ARGV[3])
  end
elseif mode == 'dead' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[7])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[6]) + 1))
end

if mode ~= 'retry' and #KEYS >= 7 and redis.call('GET', KEYS[7]) == ARGV[8] then
  redis.call('DEL', KEYS[7])
end

if #ARGV >= 16 and ARGV[10] ~= '' then
  local batch = batch_lib(12)
  if mode == 'retry' then
    batch.failed(ARGV[10], ARGV[11])
  else
    batch.dead(ARGV[10], ARGV[11])
  end
end

redis.call('INCR', KEYS[3])
redis.call('INCR', KEYS[4])
redis.call('INCR', KEYS[5])
redis.call('INCR', KEYS[6])
redis.call('EXPIRE', KEYS[5], ARGV[5])
redis.call('EXPIRE', KEYS[6], ARGV[5])
return 1
