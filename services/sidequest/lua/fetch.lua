-- fetch.lua: take up to `limit` jobs from the queues, in the given order, into this
-- process's in-flight hash (reliable fetch: a job is never only in process memory).
--
-- KEYS[1]    sidequest:lease:<identity>     must exist: a process presumed dead may not fetch
-- KEYS[2]    sidequest:inflight:<identity>  HASH  field "<token>:<queue>" -> raw job
-- KEYS[3]    sidequest:owners               SET   gains <identity> when anything is fetched
-- KEYS[4..]  queue:<name>                   LISTs in fetch order; jobs are taken from the right
-- ARGV[1]    limit: the most jobs to take
-- ARGV[2]    first token; the jobs returned get consecutive tokens from it
-- ARGV[3]    identity (the member added to KEYS[3])
-- ARGV[4..]  queue names, aligned with KEYS[4..]
-- Returns    -1 when the lease is missing, else a flat array {field, job, field, job, ...}
-- Cost       O(limit + number of queues)

if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end

local remaining = tonumber(ARGV[1])
local token = tonumber(ARGV[2])
local taken = {}

for i = 4, #KEYS do
  if remaining <= 0 then
    break
  end
  local jobs = redis.call('RPOP', KEYS[i], remaining)
  if jobs then
    local suffix = ':' .. ARGV[i]
    for _, job in ipairs(jobs) do
      taken[#taken + 1] = string.format('%d', token) .. suffix
      taken[#taken + 1] = job
      token = token + 1
    end
    remaining = remaining - #jobs
  end
end

if #taken > 0 then
  redis.call('HSET', KEYS[2], unpack(taken))
  redis.call('SADD', KEYS[3], ARGV[3])
end
return taken
