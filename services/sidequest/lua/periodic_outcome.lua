-- periodic_outcome.lua: record how a periodic job ended, if it is still the latest of its
-- schedule (an older job finishing late must not overwrite a newer one's outcome).
--
-- KEYS[1]  sidequest:periodic:state:<name>  HASH
-- ARGV[1]  jid    ARGV[2] outcome (e.g. done, failed)    ARGV[3] when (float epoch s)
-- Returns  1 recorded for the latest tick's job, 2 for the latest run outside the
--          schedule, 0 for neither (nothing written)
-- Cost     O(1)

if redis.call('HGET', KEYS[1], 'jid') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'outcome', ARGV[2], 'outcome_at', ARGV[3])
  return 1
end
if redis.call('HGET', KEYS[1], 'run_jid') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'run_outcome', ARGV[2])
  return 2
end
return 0
