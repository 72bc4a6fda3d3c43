-- exchange.lua: a worker's one round trip per batch: acknowledge the jobs that
-- finished, adopt the jobs its queue waiters landed, then (if the lease holds) take up
-- to `limit` new jobs from the queues, in the given order, into the in-flight hash
-- (reliable fetch: a job is never only in process memory). Written to issue few
-- commands per batch: one HDEL for all plain acknowledgements, one RPOP per queue, one
-- HSET for all new in-flight entries.
--
-- KEYS[1]       sidequest:lease:<identity>     must exist to fetch: a process presumed
--                                              dead may not take new jobs
-- KEYS[2]       sidequest:inflight:<identity>  HASH  field "<token>:<queue>" -> raw job
-- KEYS[3]       stat:processed                 STRING counter
-- KEYS[4]       stat:processed:<YYYY-MM-DD>    STRING counter with a TTL
-- KEYS[5]       sidequest:landing:<identity>   LIST  jobs the queue waiters moved here
-- KEYS[6]       paused                         SET   queues nobody fetches from (pausing)
-- KEYS[7..6+L]  sidequest:unique:<digest>      locks held by some acknowledged jobs
-- KEYS[7+L..]   queue:<name>                   LISTs in fetch order; taken from the right
-- ARGV[1]       TTL of the daily counter, seconds
-- ARGV[2]       p: plain acknowledgements (no lock, no start marker)
-- ARGV[3]       s: special acknowledgements
-- ARGV[4]       limit: the most jobs to take (0: only acknowledge and adopt)
-- ARGV[5]       first token for fetched jobs (consecutive from it)
-- ARGV[6]       L: number of lock keys
-- ARGV[7]       m: acknowledgements of landed jobs not adopted yet (by raw payload)
-- ARGV[8]       a: landed jobs to adopt, each under the field the worker chose
-- ARGV[9]       k: linked acknowledgements (a batch member or a chain step)
-- ARGV[10..14]  batch context (batch_lib.lua): batch prefix, queue prefix, queues key,
--               batch stats key, now (float epoch seconds)
-- ARGV[15..]    p in-flight fields; then s triples: field, index of its lock in
--               KEYS[7..6+L] (0 = none), jid that must still hold that lock; then m raw
--               payloads; then k linked entries of 9 values: "f" and an in-flight field
--               ("m" when the job has a start marker to drop too) or "l" and a landed
--               raw payload, lock index (0 = none), lock jid, bid ("" for
--               none), member jid, next chain step's queue name and payload ("" for
--               none), next step's jid; then a pairs: field, raw payload; then the queue
--               names, aligned with KEYS[7+L..]; a queue in `paused` is skipped (an
--               SCARD per fetch, and one SMISMEMBER while some queue is paused)
-- Linked        when its job is still held (not fenced): the next chain step is pushed
--               (and joins the batch) unless this member was settled before, and the
--               member settles as succeeded, which may fire the batch's callbacks;
--               members of one batch are settled together (batch_lib.lua).
-- Adopted jobs whose payload contains "recoveries": also get a "started:<field>"
-- marker (keys.started_marker; see recovery.py): they are running already. The worker
-- side of acknowledging and adopting landed jobs is runtime/landing.py.
-- Returns       {acknowledged, lease_ok, [adopted], field, job, ...}: `adopted`, present
--               only when a > 0, is a string of "1"/"0", one per adoption pair (0: no
--               longer landed, so recovered by another process); then the fetched pairs.
--               A field or landed payload that is already gone belongs to an execution
--               that was recovered and handed to another process: its acknowledgement
--               is refused (fencing), not counted, and its lock stays with the other
--               execution.
-- Cost          O(acknowledgements + landed jobs + limit + queues)

local inflight = KEYS[2]
local landing = KEYS[5]
local plain = tonumber(ARGV[2])
local special = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local token = tonumber(ARGV[5])
local locks = tonumber(ARGV[6])
local landed = tonumber(ARGV[7])
local adoptions = tonumber(ARGV[8])
local linked = tonumber(ARGV[9])
local at = 15
local acknowledged = 0

if plain > 0 then
  acknowledged = redis.call('HDEL', inflight, unpack(ARGV, at, at + plain - 1))
end
at = at + plain

for _ = 1, special do
  local field, lock, jid = ARGV[at], tonumber(ARGV[at + 1]), ARGV[at + 2]
  if redis.call('HDEL', inflight, field) == 1 then
    acknowledged = acknowledged + 1
    redis.call('HDEL', inflight, 'started:' .. field)
    if lock > 0 and redis.call('GET', KEYS[6 + lock]) == jid then
      redis.call('DEL', KEYS[6 + lock])
    end
  end
  at = at + 3
end

for _ = 1, landed do
  acknowledged = acknowledged + redis.call('LREM', landing, 1, ARGV[at])
  at = at + 1
end

if linked > 0 then
  local batch = batch_lib(10)
  local ctx = batch.ctx
  -- Fencing for the entries in the hash: one HMGET says which fields are still ours,
  -- one HDEL removes those.
  local fields = {}
  for entry = at, at + 9 * (linked - 1), 9 do
    if ARGV[entry] ~= 'l' then
      fields[#fields + 1] = ARGV[entry + 1]
    end
  end
  local held = {}
  if #fields > 0 then
    local values = redis.call('HMGET', inflight, unpack(fields))
    local ours = {}
    for i, field in ipairs(fields) do
      if values[i] then
        held[field] = true
        ours[#ours + 1] = field
      end
    end
    if #ours > 0 then
      redis.call('HDEL', inflight, unpack(ours))
    end
  end
  local succeeded = {}  -- bid -> members whose success counts together
  local bids = {}
  for _ = 1, linked do
    local holder, lock, bid, jid = ARGV[at], tonumber(ARGV[at + 2]), ARGV[at + 4], ARGV[at + 5]
    local removed
    if holder == 'l' then
      removed = redis.call('LREM', landing, 1, ARGV[at + 1]) == 1
    else
      removed = held[ARGV[at + 1]] == true
      if removed and holder == 'm' then
        redis.call('HDEL', inflight, 'started:' .. ARGV[at + 1])
      end
    end
    if removed then
      acknowledged = acknowledged + 1
      if lock > 0 and redis.call('GET', KEYS[6 + lock]) == ARGV[at + 3] then
        redis.call('DEL', KEYS[6 + lock])
      end
      local next_queue = ARGV[at + 6]
      if next_queue ~= '' then
        -- A chain step: the next one is pushed by the first success of this step only,
        -- and joins the batch before this step leaves it (the batch stays pending).
        local push = true
        if bid ~= '' then
          local pending = batch.pending(bid, jid)
          if pending ~= nil then
            push = pending
            if push then
              batch.join(bid, {ARGV[at + 8]})
              batch.succeeded(bid, {jid})
            end
          end
        end
        if push then
          redis.call('SADD', ctx.queues, next_queue)
          redis.call('LPUSH', ctx.queue_prefix .. next_queue, ARGV[at + 7])
        end
      elseif bid ~= '' then
        if succeeded[bid] == nil then
          succeeded[bid] = {}
          bids[#bids + 1] = bid
        end
        table.insert(succeeded[bid], jid)
      end
    end
    at = at + 9
  end
  for _, bid in ipairs(bids) do
    batch.succeeded(bid, succeeded[bid])
  end
end

if acknowledged > 0 then
  redis.call('INCRBY', KEYS[3], acknowledged)
  if redis.call('INCRBY', KEYS[4], acknowledged) == acknowledged then
    redis.call('EXPIRE', KEYS[4], ARGV[1])
  end
end

local fields = {}
local flags = {}
for i = 1, adoptions do
  if redis.call('LREM', landing, 1, ARGV[at + 1]) == 1 then
    fields[#fields + 1] = ARGV[at]
    fields[#fields + 1] = ARGV[at + 1]
    -- A landed job started the moment it landed: a recovered one (its payload says
    -- "recoveries") gets the start marker a fetched one gets from its processor.
    if string.find(ARGV[at + 1], '"recoveries":', 1, true) then
      fields[#fields + 1] = 'started:' .. ARGV[at]
      fields[#fields + 1] = '1'
    end
    flags[i] = '1'
  else
    flags[i] = '0'
  end
  at = at + 2
end

local reply = {acknowledged, 1}
if adoptions > 0 then
  reply[3] = table.concat(flags)
end

if limit > 0 then
  if redis.call('EXISTS', KEYS[1]) == 0 then
    reply[2] = 0
  else
    local first_queue_key = 7 + locks
    -- Paused queues are read in the same step as the pops, so a pause is seen by the
    -- very next fetch of every process.
    local skip = {}
    if redis.call('SCARD', KEYS[6]) > 0 and #KEYS >= first_queue_key then
      skip = redis.call('SMISMEMBER', KEYS[6], unpack(ARGV, at, at + #KEYS - first_queue_key))
    end
    for i = first_queue_key, #KEYS do
      if limit <= 0 then
        break
      end
      local jobs = false
      if skip[i - first_queue_key + 1] ~= 1 then
        jobs = redis.call('RPOP', KEYS[i], limit)
      end
      if jobs then
        local suffix = ':' .. ARGV[at + i - first_queue_key]
        for _, job in ipairs(jobs) do
          local field = string.format('%d', token) .. suffix
          token = token + 1
          reply[#reply + 1] = field
          reply[#reply + 1] = job
          fields[#fields + 1] = field
          fields[#fields + 1] = job
        end
        limit = limit - #jobs
      end
    end
  end
end

if #fields > 0 then
  redis.call('HSET', inflight, unpack(fields))
end
return reply
