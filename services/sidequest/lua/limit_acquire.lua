-- limit_acquire.lua: admit a job this process is about to start under its limits, or
-- move it out of this process in the same call: to the parked list of the concurrency
-- limit that refused it, or (a rate limit refused it) to the schedule set at the time
-- the next start is allowed. Either way the job leaves the in-flight hash or landing
-- list here, so a process that dies right after the refusal loses nothing. Checks every
-- limit first and takes slots and starts only when all of them admit the job.
--
-- KEYS[1]    sidequest:inflight:<identity>  HASH  where a fetched or adopted job is held
-- KEYS[2]    sidequest:landing:<identity>   LIST  where a landed job is held
-- KEYS[3]    schedule                       ZSET  rate-limited jobs wait here
-- KEYS[4]    sidequest:limits:concurrency   HASH  key -> to (for stats and the sweep)
-- KEYS[5]    sidequest:limits:rate          HASH  key -> "<n>/<per>"
-- KEYS[6]    sidequest:limits:waiting       SET   concurrency keys with parked jobs
-- KEYS[7..]  per limit, in ARGV order: a concurrency limit names two keys,
--            sidequest:limits:slots:<key> (ZSET) and sidequest:limits:parked:<key>
--            (LIST); a rate limit one, sidequest:limits:starts:<key> (ZSET)
-- ARGV[1]    in-flight field of the job; "" for a landed job (held by payload)
-- ARGV[2]    the raw job as held (landing list entry or in-flight value)
-- ARGV[3]    the payload to park (the job with `limited_at`)
-- ARGV[4]    the payload to schedule when throttled (also marked `throttled`)
-- ARGV[5]    lease key prefix: a holder "<identity>|<n>" is alive while
--            <prefix><identity> exists (read, undeclared: single-instance Redis only)
-- ARGV[6]    holder id of this execution, "<identity>|<n>"
-- ARGV[7]    channel to announce a new schedule score on (wakes schedulers)
-- ARGV[8]    number of limits
-- ARGV[9..]  per limit 4 values: kind ("c" or "r"), key, amount (to, or starts per
--            window), seconds (slot lapse after the last refresh, or the window)
-- Returns    {1, now}: admitted (slots and starts taken); {0, now}: parked;
--            {2, wake}: throttled, scheduled at `wake`; {-1, now}: the job is no longer
--            held by this process (recovered elsewhere), nothing done. Times are float
--            epoch seconds of the Redis clock, as strings.
-- Cost       O(limits) when admitted: a concurrency limit that is not full costs a
--            ZCARD and a ZADD (and an HSET of the index when nobody held the key); a
--            full one O(to) (its lapsed holders and those without a lease are dropped);
--            a rate limit O(log N)

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local count = tonumber(ARGV[8])

local function purge_dead(slots)
  for _, holder in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    local identity = string.match(holder, '^(.*)|[^|]*$')
    if identity and redis.call('EXISTS', ARGV[5] .. identity) == 0 then
      redis.call('ZREM', slots, holder)
    end
  end
end

local function take_out()
  local field = ARGV[1]
  if field ~= '' then
    if redis.call('HDEL', KEYS[1], field) == 1 then
      redis.call('HDEL', KEYS[1], 'started:' .. field)
      return true
    end
    return false
  end
  if redis.call('LREM', KEYS[2], 1, ARGV[2]) == 1 then
    return true
  end
  -- Adopted into the in-flight hash since the worker looked: find it by payload.
  local entries = redis.call('HGETALL', KEYS[1])
  for i = 1, #entries, 2 do
    if entries[i + 1] == ARGV[2] then
      redis.call('HDEL', KEYS[1], entries[i], 'started:' .. entries[i])
      return true
    end
  end
  return false
end

local refused = nil
local wake = nil
-- Keys nobody held: their entry in the index of limits is (re)written when admitted.
local unused = {}
local key_at = 7
for i = 0, count - 1 do
  local at = 9 + i * 4
  local kind, amount, seconds = ARGV[at], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  if kind == 'c' then
    local slots = KEYS[key_at]
    if refused == nil then
      -- Lapsed and dead holders are looked for only when the key is full: a limit that
      -- does not bind costs one ZCARD here.
      local held = redis.call('ZCARD', slots)
      if held >= amount then
        redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
        purge_dead(slots)
        held = redis.call('ZCARD', slots)
        if held >= amount then
          refused = i
        end
      end
      unused[i] = held == 0
    end
    key_at = key_at + 2
  else
    local starts = KEYS[key_at]
    redis.call('ZREMRANGEBYSCORE', starts, '-inf', now - seconds)
    local started = redis.call('ZCARD', starts)
    unused[i] = started == 0
    if started >= amount then
      local edge = redis.call('ZRANGE', starts, started - amount, started - amount, 'WITHSCORES')
      local free_at = tonumber(edge[2]) + seconds
      if wake == nil or free_at > wake then
        wake = free_at
      end
    end
    key_at = key_at + 1
  end
end

if refused ~= nil or wake ~= nil then
  if not take_out() then
    return {-1, tostring(now)}
  end
  if refused ~= nil then
    local at = 9 + refused * 4
    local parked_key = nil
    key_at = 7
    for i = 0, refused do
      if i == refused then
        parked_key = KEYS[key_at + 1]
      end
      key_at = key_at + ((ARGV[9 + i * 4] == 'c') and 2 or 1)
    end
    redis.call('LPUSH', parked_key, ARGV[3])
    redis.call('SADD', KEYS[6], ARGV[at + 1])
    redis.call('HSET', KEYS[4], ARGV[at + 1], ARGV[at + 2])
    return {0, tostring(now)}
  end
  local score = string.format('%.6f', wake)
  redis.call('ZADD', KEYS[3], score, ARGV[4])
  redis.call('PUBLISH', ARGV[7], score)
  return {2, score}
end

key_at = 7
for i = 0, count - 1 do
  local at = 9 + i * 4
  local kind, name, seconds = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 3])
  if kind == 'c' then
    redis.call('ZADD', KEYS[key_at], string.format('%.6f', now + seconds), ARGV[6])
    if unused[i] then
      redis.call('HSET', KEYS[4], name, ARGV[at + 2])
    end
    key_at = key_at + 2
  else
    redis.call('ZADD', KEYS[key_at], string.format('%.6f', now), ARGV[6])
    redis.call('PEXPIRE', KEYS[key_at], math.ceil(seconds * 1000) + 1000)
    if unused[i] then
      redis.call('HSET', KEYS[5], name, ARGV[at + 2] .. '/' .. ARGV[at + 3])
    end
    key_at = key_at + 1
  end
end
return {1, tostring(now)}
