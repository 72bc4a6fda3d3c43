-- recover.lua: hand the jobs of a process whose lease expired (its in-flight hash and
-- its landing list) back to their queues, or to the dead set when a job has killed
-- too many processes.
--
-- KEYS[1]    sidequest:lease:<identity>     must be missing, or nothing happens
-- KEYS[2]    sidequest:inflight:<identity>  HASH of the presumed-dead process
-- KEYS[3]    sidequest:owners               SET   the identity is removed once empty
-- KEYS[4]    dead                           ZSET
-- KEYS[5]    sidequest:recoveries           HASH  jid -> recoveries so far
-- KEYS[6]    stat:failed                    KEYS[7] stat:failed:<YYYY-MM-DD>
-- KEYS[8]    sidequest:landing:<identity>   LIST  jobs its queue waiters had landed
-- KEYS[9..]  queue:<name> for each entry, aligned with the ARGV entries
-- ARGV[1]    identity
-- ARGV[2]    now, float epoch seconds (score for the dead set)
-- ARGV[3]    dead set: most entries kept      ARGV[4] dead set: drop scores at or below
-- ARGV[5]    TTL of the recoveries hash, seconds
-- ARGV[6]    TTL of the daily counter, seconds
-- ARGV[7..11] batch context (batch_lib.lua)
-- ARGV[12..] per entry 7 values: field ("" for a landed job), mode, jid to charge a
--            recovery to ("" for none), payload to push or bury, for a landed job
--            its raw payload as it sits in the landing list, and the bid and member jid
--            of a buried job's batch ("" for none: its death counts there). Modes: "front" (back to the
--            front of its queue), "back" (to the back: a job recovered before, kept away
--            from the jobs it died with), "dead" (a poison pill)
-- Also      drops "started:<field>" markers whose job is no longer in the hash: a process
--            that came back after its jobs were recovered notes runs of jobs it no
--            longer owns, and such a marker alone would keep the hash and the owner
--            entry forever.
-- Returns    -1 when the lease exists (the process is alive after all), else the number
--            of jobs moved
-- Cost       O(number of entries + size of the in-flight hash)

if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end

local moved = 0
local entry = 0
local batch = nil
for at = 12, #ARGV, 7 do
  local field, mode, jid = ARGV[at], ARGV[at + 1], ARGV[at + 2]
  local held
  if field == '' then
    held = redis.call('LREM', KEYS[8], 1, ARGV[at + 4]) == 1
  else
    held = redis.call('HDEL', KEYS[2], field) == 1
    if held then
      redis.call('HDEL', KEYS[2], 'started:' .. field)
    end
  end
  if held then
    local job = ARGV[at + 3]
    if mode == 'dead' then
      redis.call('ZADD', KEYS[4], ARGV[2], job)
      redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[4])
      redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[3]) + 1))
      redis.call('INCR', KEYS[6])
      redis.call('INCR', KEYS[7])
      redis.call('EXPIRE', KEYS[7], ARGV[6])
      if ARGV[at + 5] ~= '' then
        batch = batch or batch_lib(7)
        batch.dead(ARGV[at + 5], ARGV[at + 6])
      end
    elseif mode == 'back' then
      redis.call('LPUSH', KEYS[9 + entry], job)
      if jid ~= '' then
        redis.call('HINCRBY', KEYS[5], jid, 1)
      end
    else
      redis.call('RPUSH', KEYS[9 + entry], job)
      if jid ~= '' then
        redis.call('HINCRBY', KEYS[5], jid, 1)
      end
    end
    moved = moved + 1
  end
  entry = entry + 1
end

if moved > 0 then
  redis.call('EXPIRE', KEYS[5], ARGV[5])
end
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(field, 1, 8) == 'started:'
      and redis.call('HEXISTS', KEYS[2], string.sub(field, 9)) == 0 then
    redis.call('HDEL', KEYS[2], field)
  end
end
if redis.call('HLEN', KEYS[2]) == 0 and redis.call('LLEN', KEYS[8]) == 0 then
  redis.call('SREM', KEYS[3], ARGV[1])
end
return moved
