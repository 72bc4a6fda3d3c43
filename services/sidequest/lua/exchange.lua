-- exchange.lua: a worker's one round trip per batch: acknowledge the jobs that
-- finished, then (if the lease holds) take up to `limit` new jobs from the queues, in
-- the given order, into the in-flight hash (reliable fetch: a job is never only in
-- process memory). Written to issue few commands per batch: one HDEL for all plain
-- acknowledgements, one RPOP per queue, one HSET for all fetched jobs.
--
-- KEYS[1]       sidequest:lease:<identity>     must exist to fetch: a process presumed
--                                              dead may not take new jobs
-- KEYS[2]       sidequest:inflight:<identity>  HASH  field "<token>:<queue>" -> raw job
-- KEYS[3]       stat:processed                 STRING counter
-- KEYS[4]       stat:processed:<YYYY-MM-DD>    STRING counter with a TTL
-- KEYS[5..4+L]  sidequest:unique:<digest>      locks held by some acknowledged jobs
-- KEYS[5+L..]   queue:<name>                   LISTs in fetch order; taken from the right
-- ARGV[1]       TTL of the daily counter, seconds
-- ARGV[2]       p: plain acknowledgements (no lock, no start marker)
-- ARGV[3]       s: special acknowledgements
-- ARGV[4]       limit: the most jobs to take (0: only acknowledge)
-- ARGV[5]       first token; fetched jobs get consecutive tokens from it
-- ARGV[6]       L: number of lock keys
-- ARGV[7..]     p in-flight fields; then s triples: field, index of its lock in
--               KEYS[5..4+L] (0 = none), jid that must still hold that lock; then the
--               queue names, aligned with KEYS[5+L..]
-- Returns       {acknowledged, lease_ok, field, job, field, job, ...}. A field that is
--               already gone belongs to an execution that was recovered and handed to
--               another process: its acknowledgement is refused (fencing), it is not
--               counted, and its lock stays with the other execution.
-- Cost          O(acknowledgements + limit + queues)

local inflight = KEYS[2]
local plain = tonumber(ARGV[2])
local special = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local locks = tonumber(ARGV[6])
local at = 7
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
    if lock > 0 and redis.call('GET', KEYS[4 + lock]) == jid then
      redis.call('DEL', KEYS[4 + lock])
    end
  end
  at = at + 3
end

if acknowledged > 0 then
  redis.call('INCRBY', KEYS[3], acknowledged)
  if redis.call('INCRBY', KEYS[4], acknowledged) == acknowledged then
    redis.call('EXPIRE', KEYS[4], ARGV[1])
  end
end

if limit <= 0 then
  return {acknowledged, 1}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {acknowledged, 0}
end

local taken = {acknowledged, 1}
local fields = {}
local token = tonumber(ARGV[5])
local first_queue_key = 5 + locks
for i = first_queue_key, #KEYS do
  if limit <= 0 then
    break
  end
  local jobs = redis.call('RPOP', KEYS[i], limit)
  if jobs then
    local suffix = ':' .. ARGV[at + i - first_queue_key]
    for _, job in ipairs(jobs) do
      local field = string.format('%d', token) .. suffix
      token = token + 1
      taken[#taken + 1] = field
      taken[#taken + 1] = job
      fields[#fields + 1] = field
      fields[#fields + 1] = job
    end
    limit = limit - #jobs
  end
end
if #fields > 0 then
  redis.call('HSET', inflight, unpack(fields))
end
return taken
