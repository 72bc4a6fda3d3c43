-- batch_lib.lua: batch bookkeeping shared by the scripts that finish jobs. Not a script
-- of its own: scripts.py puts this text in front of exchange.lua, fail.lua, recover.lua,
-- kill.lua and batch_push.lua, so that a job's outcome and its batch's counters and
-- callbacks are written by the very script that acknowledges, retries or buries the
-- job: one atomic step, which no crash, restart or refused (fenced) outcome can split.
--
-- Keys     named in stored data, built here (sidequest targets one Redis, not Cluster):
--          ctx.prefix .. bid                HASH  the batch (keys.batch)
--          ctx.prefix .. bid .. ':members'  SET   every member (keys.batch_members)
--          ctx.prefix .. bid .. ':pending'  SET   members not settled (keys.batch_pending)
--          ctx.prefix .. bid .. ':failed'   SET   pending members waiting for a retry
--          ctx.prefix .. bid .. ':dead'     SET   members that died
--          ctx.queue_prefix .. queue        LIST  where a callback is pushed (keys.queue)
--          A member is a jid, or "b:<bid>" for a child batch.
-- Use      local batch = batch_lib(at): the functions below, for the batch context at
--          ARGV[at..at+4]: keys.BATCH_PREFIX, keys.QUEUE_PREFIX, keys.QUEUES,
--          keys.BATCH_STATS, now (float epoch seconds). One closure is made per call
--          of a script, and the others only when a call has batch work, so scripts
--          that acknowledge jobs in no batch pay nothing for this library.
-- Exactly once: a member leaves the pending set once (SREM answers 1 to one caller
--          only: a duplicate run's outcome finds it gone and changes nothing), the
--          batch completes once (HSETNX done_at), and every callback push is guarded by
--          HSETNX fired:<event>. Successes of one batch in one call are counted together
--          (one SREM of all of them), which keeps a member's cost near one command.

local function batch_lib(at)
  local ctx = {prefix = ARGV[at], queue_prefix = ARGV[at + 1], queues = ARGV[at + 2],
               stats = ARGV[at + 3], now = ARGV[at + 4]}
  local batch = {}

  -- Push the callback of `event` unless it was pushed before; note when it fired.
  local function fire(key, event)
    if redis.call('HSETNX', key, 'fired:' .. event, ctx.now) == 0 then
      return
    end
    local job = redis.call('HGET', key, 'cb:' .. event)
    if job then
      local queue = redis.call('HGET', key, 'cbq:' .. event)
      redis.call('SADD', ctx.queues, queue)
      -- The stored payload lacks its closing brace: enqueued_at is when it fires.
      redis.call('LPUSH', ctx.queue_prefix .. queue, job .. ',"enqueued_at":' .. ctx.now .. '}')
      redis.call('HINCRBY', ctx.stats, 'callbacks:' .. event, 1)
    end
  end

  -- Nothing is pending any more: fire complete (and success without deaths), start
  -- the TTL, and settle this batch as one member of its parent. Once per batch.
  local function complete(bid, key)
    if redis.call('HSETNX', key, 'done_at', ctx.now) == 0 then
      return
    end
    local dead = tonumber(redis.call('HGET', key, 'dead') or '0')
    fire(key, 'complete')
    if dead == 0 then
      fire(key, 'success')
    end
    local ttl = redis.call('HGET', key, 'ttl') or '2592000'
    for _, suffix in ipairs({'', ':members', ':failed', ':dead'}) do
      redis.call('EXPIRE', key .. suffix, ttl)
    end
    redis.call('HINCRBY', ctx.stats, 'completed', 1)
    local parent = redis.call('HGET', key, 'parent')
    if parent and parent ~= '' then
      if dead == 0 then
        batch.succeeded(parent, {'b:' .. bid})
      else
        batch.dead(parent, 'b:' .. bid)
      end
    end
  end

  function batch.check(bid, key)
    if redis.call('SCARD', key .. ':pending') == 0 then
      complete(bid, key)
    end
  end

  -- Members of batch `bid` that succeeded (a list). Returns how many counted: those
  -- still pending; the others are settled already, or the batch is unknown (expired,
  -- or a bid this Redis never saw, e.g. Sidekiq Pro's).
  function batch.succeeded(bid, members)
    local key = ctx.prefix .. bid
    local removed = redis.call('SREM', key .. ':pending', unpack(members))
    if removed > 0 then
      redis.call('SREM', key .. ':failed', unpack(members))
      redis.call('HINCRBY', key, 'succeeded', removed)
      batch.check(bid, key)
    end
    return removed
  end

  -- A member died (or a child batch completed with deaths): on_death fires once.
  function batch.dead(bid, member)
    local key = ctx.prefix .. bid
    if redis.call('SREM', key .. ':pending', member) == 0 then
      return 0
    end
    redis.call('SREM', key .. ':failed', member)
    redis.call('SADD', key .. ':dead', member)
    redis.call('HINCRBY', key, 'dead', 1)
    fire(key, 'death')
    batch.check(bid, key)
    return 1
  end

  -- A member failed and waits for its retry: not completion.
  function batch.failed(bid, member)
    local key = ctx.prefix .. bid
    if redis.call('SISMEMBER', key .. ':pending', member) == 1 then
      redis.call('SADD', key .. ':failed', member)
    end
  end

  -- Add members (jobs, a chain's next step, a child batch) as pending.
  function batch.join(bid, members)
    local key = ctx.prefix .. bid
    local added = redis.call('SADD', key .. ':members', unpack(members))
    if added > 0 then
      redis.call('SADD', key .. ':pending', unpack(members))
      redis.call('HINCRBY', key, 'total', added)
    end
  end

  -- Whether `member` of batch `bid` is pending; nil when the batch is unknown.
  function batch.pending(bid, member)
    local key = ctx.prefix .. bid
    if redis.call('EXISTS', key) == 0 then
      return nil
    end
    return redis.call('SISMEMBER', key .. ':pending', member) == 1
  end

  batch.ctx = ctx
  return batch
end

