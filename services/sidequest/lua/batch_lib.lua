-- batch_lib.lua: batch bookkeeping shared by the scripts that finish jobs. Not a script
-- of its own: scripts.py puts this text in front of exchange.lua, fail.lua, recover.lua,
-- kill.lua and batch_push.lua, so that a job's outcome and its batch's counters and
-- callbacks are written by the very script that acknowledges, retries or buries the
-- job: one atomic step, which no crash, restart or refused (fenced) outcome can split.
--
-- Keys     named in stored data, built here (sidequest targets one Redis, not Cluster):
--          ctx.prefix .. bid              HASH  the batch (keys.batch)
--          ctx.prefix .. bid .. ':jobs'   HASH  member -> p / f / s / d (keys.batch_jobs)
--          ctx.queue_prefix .. queue      LIST  where a callback is pushed (keys.queue)
-- ctx      {prefix, queue_prefix, queues, stats, now}: keys.BATCH_PREFIX,
--          keys.QUEUE_PREFIX, keys.QUEUES, keys.BATCH_STATS, float epoch seconds
-- Exactly once: a member moves from p or f to s or d once (a second outcome of the same
--          member, e.g. a duplicate run, finds it settled and changes nothing), pending
--          reaches 0 once, and every callback push is guarded by HSETNX fired:<event>.

local function batch_context(at)
  return {prefix = ARGV[at], queue_prefix = ARGV[at + 1], queues = ARGV[at + 2],
          stats = ARGV[at + 3], now = ARGV[at + 4]}
end

-- Push the callback of `event` unless it was pushed before; note when it fired.
local function batch_fire(key, event, ctx)
  if redis.call('HSETNX', key, 'fired:' .. event, ctx.now) == 0 then
    return
  end
  local job = redis.call('HGET', key, 'cb:' .. event)
  if job then
    local queue = redis.call('HGET', key, 'cbq:' .. event)
    redis.call('SADD', ctx.queues, queue)
    -- The stored payload lacks its closing brace: enqueued_at is the moment it fires.
    redis.call('LPUSH', ctx.queue_prefix .. queue, job .. ',"enqueued_at":' .. ctx.now .. '}')
    redis.call('HINCRBY', ctx.stats, 'callbacks:' .. event, 1)
  end
end

local batch_settle

-- pending reached 0: fire complete (and success without deaths), start the TTL, and
-- settle this batch as one member of its parent.
local function batch_complete(bid, key, ctx)
  redis.call('HSET', key, 'done_at', ctx.now)
  local dead = tonumber(redis.call('HGET', key, 'dead') or '0')
  batch_fire(key, 'complete', ctx)
  if dead == 0 then
    batch_fire(key, 'success', ctx)
  end
  local ttl = redis.call('HGET', key, 'ttl') or '2592000'
  redis.call('EXPIRE', key, ttl)
  redis.call('EXPIRE', key .. ':jobs', ttl)
  redis.call('HINCRBY', ctx.stats, 'completed', 1)
  local parent = redis.call('HGET', key, 'parent')
  if parent and parent ~= '' then
    batch_settle(parent, 'b:' .. bid, dead == 0 and 's' or 'd', ctx)
  end
end

-- Record one member's outcome: 'f' (failed, retrying), 's' (succeeded) or 'd' (dead).
-- Returns 1 when it counted, 0 when the member is unknown (batch expired, or a bid this
-- Redis never saw, e.g. Sidekiq Pro's) or settled already.
batch_settle = function(bid, member, outcome, ctx)
  local key = ctx.prefix .. bid
  local jobs = key .. ':jobs'
  local previous = redis.call('HGET', jobs, member)
  if previous ~= 'p' and previous ~= 'f' then
    return 0
  end
  if outcome == 'f' then
    if previous == 'p' then
      redis.call('HSET', jobs, member, 'f')
      redis.call('HINCRBY', key, 'failed', 1)
    end
    return 1
  end
  redis.call('HSET', jobs, member, outcome)
  if previous == 'f' then
    redis.call('HINCRBY', key, 'failed', -1)
  end
  if outcome == 'd' then
    redis.call('HINCRBY', key, 'dead', 1)
    batch_fire(key, 'death', ctx)
  else
    redis.call('HINCRBY', key, 'succeeded', 1)
  end
  if redis.call('HINCRBY', key, 'pending', -1) == 0 then
    batch_complete(bid, key, ctx)
  end
  return 1
end

-- Add a member (a job, a chain's next step, a child batch) as pending.
local function batch_join(bid, member, ctx)
  local key = ctx.prefix .. bid
  if redis.call('HSETNX', key .. ':jobs', member, 'p') == 1 then
    redis.call('HINCRBY', key, 'total', 1)
    redis.call('HINCRBY', key, 'pending', 1)
  end
end

-- Whether `member` may still finish: pending or retrying, or not in any batch we know.
local function batch_open_member(bid, member, ctx)
  local state = redis.call('HGET', ctx.prefix .. bid .. ':jobs', member)
  return state == false or state == 'p' or state == 'f'
end

