-- periodic_claim.lua: settle a periodic schedule's due ticks and push their jobs in one
-- step, only if no other process settled any of them first (compare-and-set of the
-- schedule's watermark) and only from the definition published now. A tick is pushed
-- by the one call that moves the watermark past it; the watermark never moves back.
--
-- KEYS[1]  sidequest:periodic:schedules     HASH  name -> definition JSON
-- KEYS[2]  sidequest:periodic:state:<name>  HASH  watermark, tick, jid, enqueued_at, paused
-- KEYS[3]  queues                           SET
-- KEYS[4]  queue:<name>                     LIST
-- ARGV[1]  schedule name
-- ARGV[2]  SHA1 of the definition JSON the caller planned with
-- ARGV[3]  the watermark the caller planned from, exactly as read ("" for none)
-- ARGV[4]  the new watermark (whole epoch s): every due tick up to it is settled
-- ARGV[5]  queue name            ARGV[6] enqueued_at (float epoch s)
-- ARGV[7]  ticks settled here that were past their grace (missed), run or not
-- ARGV[8]  of those, the ones not run (dropped by the `missed` policy)
-- ARGV[9..] per job to push, oldest tick first: tick, jid, payload
-- Returns  {'claimed', watermark}  settled; pushed the jobs (none if all were dropped);
--                                  added ARGV[7] and ARGV[8] to the state's `missed`
--                                  and `dropped`, so a missed tick is counted by the
--                                  step that settles it, whatever becomes of the caller
--          {'paused', watermark}   settled; pushed nothing, the schedule is paused
--          {'moved', watermark}    another process settled ticks first: plan again
--                                  from the watermark returned
--          {'stale', ''}           the definition changed or was removed: reload it
-- Cost     O(jobs)

local definition = redis.call('HGET', KEYS[1], ARGV[1])
if not definition or redis.sha1hex(definition) ~= ARGV[2] then
  return {'stale', ''}
end
local watermark = redis.call('HGET', KEYS[2], 'watermark') or ''
if watermark ~= ARGV[3] or (watermark ~= '' and tonumber(ARGV[4]) <= tonumber(watermark)) then
  return {'moved', watermark}
end
local paused = redis.call('HEXISTS', KEYS[2], 'paused') == 1
local last = #ARGV - 2
-- Pushes first: a script is refused for lack of memory only at its first write, so a
-- refusal leaves nothing half done, and no error can settle a tick whose job is not in.
if not paused and last >= 9 then
  redis.call('SADD', KEYS[3], ARGV[5])
  for at = 9, last, 3 do
    redis.call('LPUSH', KEYS[4], ARGV[at + 2])
  end
end
redis.call('HSET', KEYS[2], 'watermark', ARGV[4])
if paused then
  return {'paused', ARGV[4]}
end
if last >= 9 then
  redis.call('HSET', KEYS[2], 'tick', ARGV[last], 'jid', ARGV[last + 1], 'enqueued_at', ARGV[6])
  redis.call('HDEL', KEYS[2], 'outcome', 'outcome_at')
end
if tonumber(ARGV[7]) > 0 then
  redis.call('HINCRBY', KEYS[2], 'missed', ARGV[7])
end
if tonumber(ARGV[8]) > 0 then
  redis.call('HINCRBY', KEYS[2], 'dropped', ARGV[8])
end
return {'claimed', ARGV[4]}
