-- batch_push.lua: create or reopen batches and push their jobs in one step (the end of a
-- `with batch:` block, batches/store.py). Blocks come outermost first; a block whose
-- parent is a batch (created or reopened in this call, or pending in Redis) becomes one
-- pending member of it. Nothing is written unless every block is allowed: a reopened
-- batch must exist and not be complete, a new one must not exist.
--
-- KEYS[1]    schedule                  ZSET  jobs pushed for later
-- KEYS[2]    sidequest:batches         ZSET  bid -> created_at, for listings
-- ARGV[1..5] batch context (batch_lib.lua): batch prefix, queue prefix, queues key,
--            batch stats key, now (float epoch seconds)
-- ARGV[6]    number of blocks     ARGV[7] channel to publish a schedule wakeup on
-- ARGV[8..]  per block: bid, mode ("new" or "open"), parent bid ("" for none), m, then
--            m field/value pairs for a new batch's hash (description, ttl, callbacks),
--            then n, then n jobs of 4 values: jid, queue name, payload, score (float
--            epoch seconds to schedule it, "" to push it now)
-- Returns    {1} when written; {0, bid, reason} when refused, reason one of "exists",
--            "missing", "complete", "parent"
-- Also       a batch left with nothing pending (an empty one) completes here, innermost
--            first, so its callbacks fire at once; drops up to 5 index entries of
--            expired batches, picked at random (keeps the index near the live batches).
-- Cost       O(jobs + blocks)

local batch = batch_lib(1)
local ctx = batch.ctx
local blocks = {}
local created = {}
local at = 8
for b = 1, tonumber(ARGV[6]) do
  local block = {bid = ARGV[at], mode = ARGV[at + 1], parent = ARGV[at + 2],
                 meta = tonumber(ARGV[at + 3]), meta_at = at + 4}
  at = block.meta_at + 2 * block.meta
  block.jobs = tonumber(ARGV[at])
  block.jobs_at = at + 1
  at = block.jobs_at + 4 * block.jobs
  local key = ctx.prefix .. block.bid
  if block.mode == 'new' then
    if redis.call('EXISTS', key) == 1 then
      return {0, block.bid, 'exists'}
    end
    created[block.bid] = true
  elseif redis.call('EXISTS', key) == 0 then
    return {0, block.bid, 'missing'}
  elseif redis.call('HEXISTS', key, 'done_at') == 1 then
    return {0, block.bid, 'complete'}
  end
  if block.parent ~= '' and not created[block.parent] then
    local parent = ctx.prefix .. block.parent
    if redis.call('EXISTS', parent) == 0 or redis.call('HEXISTS', parent, 'done_at') == 1 then
      return {0, block.bid, 'parent'}
    end
  end
  blocks[b] = block
end

-- Members and pushes go in chunks: Lua's unpack takes a few thousand values at most.
local CHUNK = 1000

local function in_chunks(values, call)
  for first = 1, #values, CHUNK do
    call({unpack(values, first, math.min(first + CHUNK - 1, #values))})
  end
end

local scheduled = nil
for _, block in ipairs(blocks) do
  local key = ctx.prefix .. block.bid
  if block.mode == 'new' then
    redis.call('HSET', key, 'created_at', ctx.now, 'total', 0, 'succeeded', 0, 'dead', 0,
               'parent', block.parent)
    if block.meta > 0 then
      redis.call('HSET', key, unpack(ARGV, block.meta_at, block.meta_at + 2 * block.meta - 1))
    end
    redis.call('ZADD', KEYS[2], ctx.now, block.bid)
    redis.call('HINCRBY', ctx.stats, 'created', 1)
    if block.parent ~= '' then
      batch.join(block.parent, {'b:' .. block.bid})
    end
  end
  local jids = {}
  local queued = {}  -- queue name -> payloads, in push order
  local queue_names = {}
  for i = block.jobs_at, block.jobs_at + 4 * (block.jobs - 1), 4 do
    jids[#jids + 1] = ARGV[i]
    if ARGV[i + 3] == '' then
      local name = ARGV[i + 1]
      if queued[name] == nil then
        queued[name] = {}
        queue_names[#queue_names + 1] = name
      end
      table.insert(queued[name], ARGV[i + 2])
    else
      redis.call('ZADD', KEYS[1], ARGV[i + 3], ARGV[i + 2])
      if scheduled == nil or tonumber(ARGV[i + 3]) < tonumber(scheduled) then
        scheduled = ARGV[i + 3]
      end
    end
  end
  in_chunks(jids, function(chunk) batch.join(block.bid, chunk) end)
  for _, name in ipairs(queue_names) do
    redis.call('SADD', ctx.queues, name)
    in_chunks(queued[name], function(chunk)
      redis.call('LPUSH', ctx.queue_prefix .. name, unpack(chunk))
    end)
  end
end

for b = #blocks, 1, -1 do
  batch.check(blocks[b].bid, ctx.prefix .. blocks[b].bid)
end

if scheduled ~= nil then
  -- Only a wakeup (schedulers look every second anyway).
  redis.pcall('PUBLISH', ARGV[7], scheduled)
end

for _, bid in ipairs(redis.call('ZRANDMEMBER', KEYS[2], 5)) do
  if redis.call('EXISTS', ctx.prefix .. bid) == 0 then
    redis.call('ZREM', KEYS[2], bid)
  end
end
return {1}
