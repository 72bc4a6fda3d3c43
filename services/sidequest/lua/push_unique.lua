-- push_unique.lua: enqueue or schedule a job only if no job with the same digest holds
-- the unique lock; take the lock in the same step.
--
-- KEYS[1]  sidequest:unique:<digest>  STRING  holds the jid of the job that owns it
-- KEYS[2]  queues                     SET
-- KEYS[3]  queue:<name> (push now) or schedule (push later)
-- ARGV[1]  jid          ARGV[2] lock TTL, milliseconds
-- ARGV[3]  queue name   ARGV[4] payload
-- ARGV[5]  score (float epoch seconds) to schedule, or "" to push now
-- ARGV[6]  channel to publish the score on when scheduling
-- Returns  {1} when enqueued, {0, holder jid} when refused
-- Cost     O(log N)

if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {0, redis.call('GET', KEYS[1]) or ''}
end
if ARGV[5] == '' then
  redis.call('SADD', KEYS[2], ARGV[3])
  redis.call('LPUSH', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
  -- Only a wakeup (schedulers look every second anyway): pcall, so a user without
  -- access to the channel does not fail a push whose writes stand.
  redis.pcall('PUBLISH', ARGV[6], ARGV[5])
end
return {1}
