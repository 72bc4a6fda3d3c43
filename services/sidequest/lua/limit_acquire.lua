-- limit_acquire.lua: admit jobs this process is about to start under their limits, or
-- move each refused one out of this process in the same call: to the parked list of
-- the concurrency limit that refused it, or (a rate limit refused it) to the schedule
-- set at the time its next start is allowed. A refused job leaves the in-flight hash or
-- landing list here, so a process that dies right after the refusal loses nothing.
-- Every limit of a job is checked before any slot or start is taken. Jobs are handled
-- in order, one after the other, as separate calls would.
--
-- KEYS[1]    sidequest:inflight:<identity>  HASH  where a fetched or adopted job is held
-- KEYS[2]    sidequest:landing:<identity>   LIST  where a landed job is held
-- KEYS[3]    schedule                       ZSET  rate-limited jobs wait here
-- KEYS[4]    sidequest:limits:concurrency   HASH  key -> to (for stats and the sweep)
-- KEYS[5]    sidequest:limits:rate          HASH  key -> "<n>/<per>"
-- KEYS[6]    sidequest:limits:waiting       SET   concurrency keys with parked jobs
-- KEYS[7..]  per job, per limit, in ARGV order: a concurrency limit names two keys,
--            sidequest:limits:slots:<key> (ZSET) and sidequest:limits:parked:<key>
--            (LIST); a rate limit one, sidequest:limits:starts:<key> (ZSET)
-- ARGV[1]    lease key prefix: a holder "<identity>|<n>" is alive while
--            <prefix><identity> exists (read, undeclared: single-instance Redis only)
-- ARGV[2]    channel to announce a new schedule score on (wakes schedulers)
-- ARGV[3]    number of jobs
-- ARGV[4..]  per job: its in-flight field ("" for a landed job, held by payload), the
--            raw job as held, its holder id "<identity>|<n>", the number of its limits;
--            then per limit 4 values: kind ("c" or "r"), key, amount (to, or starts per
--            window), seconds (slot lapse after the last refresh, or the window)
-- Parked and throttled payloads get `"limited_at":<now>` (unless they have it: the wait
-- counts from the first refusal), throttled ones `"throttled_at":<now>` too (promote.lua
-- puts them back at the front of their queue), written as the first field of the JSON.
-- Returns    per job 3 values: verdict, time (float epoch seconds of the Redis clock,
--            as a string) and, for an admitted job, how many jobs are parked on its
--            concurrency keys (0 otherwise; the worker gives such a job's slots back at
--            once, others' a few milliseconds later with company). Verdicts: 1 admitted
--            (slots and starts taken), 0 parked, 2 throttled (the time is its wake-up),
--            -1 no longer held by this process (recovered elsewhere: nothing done)
-- Cost       per job O(limits) when admitted: a concurrency limit that is not full
--            costs a ZCARD and a ZADD (and an HSET of the index when nobody held the
--            key); a full one O(to) (its lapsed holders and those without a lease are
--            dropped); a rate limit O(log N)

local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local stamp = string.format('%.6f', now)

local function purge_dead(slots)
  for _, holder in ipairs(redis.call('ZRANGE', slots, 0, -1)) do
    local identity = string.match(holder, '^(.*)|[^|]*$')
    if identity and redis.call('EXISTS', ARGV[1] .. identity) == 0 then
      redis.call('ZREM', slots, holder)
    end
  end
end

local function take_out(field, raw)
  if field ~= '' then
    if redis.call('HDEL', KEYS[1], field) == 1 then
      redis.call('HDEL', KEYS[1], 'started:' .. field)
      return true
    end
    return false
  end
  if redis.call('LREM', KEYS[2], 1, raw) == 1 then
    return true
  end
  -- Adopted into the in-flight hash since the worker looked: find it by payload.
  local entries = redis.call('HGETALL', KEYS[1])
  for i = 1, #entries, 2 do
    if entries[i + 1] == raw then
      redis.call('HDEL', KEYS[1], entries[i], 'started:' .. entries[i])
      return true
    end
  end
  return false
end

local function marked(raw, name, value)
  if string.sub(raw, 1, 1) ~= '{' or string.find(raw, '"' .. name .. '":', 1, true) then
    return raw
  end
  return '{"' .. name .. '":' .. value .. ',' .. string.sub(raw, 2)
end

local reply = {}
local at = 4
local key_at = 7
for _ = 1, tonumber(ARGV[3]) do
  local field, raw, holder, count = ARGV[at], ARGV[at + 1], ARGV[at + 2], tonumber(ARGV[at + 3])
  local first_limit, first_key = at + 4, key_at
  local refused, parked_key, refused_key, refused_to = false, nil, nil, nil
  local wake = nil
  local unused = {}
  local limit_at, k = first_limit, first_key
  for i = 1, count do
    local kind, amount, seconds = ARGV[limit_at], tonumber(ARGV[limit_at + 2]), tonumber(ARGV[limit_at + 3])
    if kind == 'c' then
      if not refused then
        -- Lapsed and dead holders are looked for only when the key is full: a limit
        -- that does not bind costs one ZCARD here.
        local held = redis.call('ZCARD', KEYS[k])
        if held >= amount then
          redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now)
          purge_dead(KEYS[k])
          held = redis.call('ZCARD', KEYS[k])
          if held >= amount then
            refused = true
            parked_key = KEYS[k + 1]
            refused_key, refused_to = ARGV[limit_at + 1], ARGV[limit_at + 2]
          end
        end
        unused[i] = held == 0
      end
      k = k + 2
    else
      redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now - seconds)
      local started = redis.call('ZCARD', KEYS[k])
      unused[i] = started == 0
      if started >= amount then
        local edge = redis.call('ZRANGE', KEYS[k], started - amount, started - amount, 'WITHSCORES')
        local free_at = tonumber(edge[2]) + seconds
        if wake == nil or free_at > wake then
          wake = free_at
        end
      end
      k = k + 1
    end
    limit_at = limit_at + 4
  end

  if refused or wake ~= nil then
    if not take_out(field, raw) then
      reply[#reply + 1] = -1
      reply[#reply + 1] = stamp
      reply[#reply + 1] = 0
    elseif refused then
      redis.call('LPUSH', parked_key, marked(raw, 'limited_at', stamp))
      redis.call('SADD', KEYS[6], refused_key)
      redis.call('HSET', KEYS[4], refused_key, refused_to)
      reply[#reply + 1] = 0
      reply[#reply + 1] = stamp
      reply[#reply + 1] = 0
    else
      local score = string.format('%.6f', wake)
      local payload = marked(marked(raw, 'limited_at', stamp), 'throttled_at', stamp)
      redis.call('ZADD', KEYS[3], score, payload)
      redis.call('PUBLISH', ARGV[2], score)
      reply[#reply + 1] = 2
      reply[#reply + 1] = score
      reply[#reply + 1] = 0
    end
  else
    local waiting = 0
    limit_at, k = first_limit, first_key
    for i = 1, count do
      local kind, name, seconds = ARGV[limit_at], ARGV[limit_at + 1], tonumber(ARGV[limit_at + 3])
      if kind == 'c' then
        redis.call('ZADD', KEYS[k], string.format('%.6f', now + seconds), holder)
        if unused[i] then
          redis.call('HSET', KEYS[4], name, ARGV[limit_at + 2])
        else
          waiting = waiting + redis.call('LLEN', KEYS[k + 1])
        end
        k = k + 2
      else
        redis.call('ZADD', KEYS[k], stamp, holder)
        redis.call('PEXPIRE', KEYS[k], math.ceil(seconds * 1000) + 1000)
        if unused[i] then
          redis.call('HSET', KEYS[5], name, ARGV[limit_at + 2] .. '/' .. ARGV[limit_at + 3])
        end
        k = k + 1
      end
      limit_at = limit_at + 4
    end
    reply[#reply + 1] = 1
    reply[#reply + 1] = stamp
    reply[#reply + 1] = waiting
  end
  at = first_limit + count * 4
  key_at = k
end
return reply
