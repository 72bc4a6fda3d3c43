-- outbox_push.lua: push the jobs of committed outbox rows, each at most once ever.
--
-- A job is pushed only if its marker is new: SET NX with a TTL, in the same step as the
-- push, so a relay that pushed and died before deleting its rows pushes nothing again
-- when it (or another relay) relays those rows a second time. Jobs are pushed in ARGV
-- order: the relay lists each enqueuing transaction's jobs in the order they were written.
--
-- KEYS[1]          queues                       SET
-- KEYS[2]          schedule                     ZSET
-- then per job i (base = 2 + 3 * (i - 1)):
-- KEYS[base + 1]   sidequest:outbox:<jid>       STRING  the exactly-once marker
-- KEYS[base + 2]   queue:<name> (push now) or schedule (push later)
-- KEYS[base + 3]   sidequest:unique:<digest>, or the marker again when not unique
-- ARGV[1]          marker TTL, milliseconds
-- ARGV[2]          channel to publish a scheduled job's score on
-- then per job i (base = 2 + 4 * (i - 1)):
-- ARGV[base + 1]   queue name          ARGV[base + 2] payload
-- ARGV[base + 3]   score (float epoch seconds) to schedule, or "" to push now
-- ARGV[base + 4]   unique lock TTL, milliseconds, or "0" when not unique
-- Returns  one number per job: 1 pushed, 0 pushed before (marker found),
--          2 refused by its unique lock (held by another job), 3 invalid
-- Cost     O(jobs * log N)

local count = (#KEYS - 2) / 3
local results = {}
for i = 1, count do
  local k = 2 + 3 * (i - 1)
  local a = 2 + 4 * (i - 1)
  local marker, target, lock = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local queue, job, score, lock_ttl = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local jid = string.sub(marker, string.len('sidequest:outbox:') + 1)
  if not redis.call('SET', marker, '1', 'NX', 'PX', ARGV[1]) then
    results[i] = 0
  elseif lock_ttl ~= '0' and not redis.call('SET', lock, jid, 'NX', 'PX', lock_ttl) then
    results[i] = 2
  elseif score == '' then
    redis.call('SADD', KEYS[1], queue)
    redis.call('LPUSH', target, job)
    results[i] = 1
  else
    redis.call('ZADD', target, score, job)
    -- Only a wakeup (schedulers look every second anyway): pcall, so a user without
    -- access to the channel does not fail a push whose writes stand.
    redis.pcall('PUBLISH', ARGV[2], score)
    results[i] = 1
  end
end
return results
