--[[
run-slot-acquire.lua: takes one of a user's `max` worker run slots for a job, as a lease that
expires unless renewed, so a dead worker's slot frees itself. Expired leases are pruned first.
Idempotent per job id: a job that holds a slot keeps it (its lease is extended).

KEYS[1] the user's leases  ZSET job id -> lease expiry ms

ARGV[1] job id
ARGV[2] max slots (integer >= 1)
ARGV[3] lease, ms
ARGV[4] time override, ms since epoch, for tests; '' = Redis TIME

Returns 1 when the job holds a slot, 0 when every slot is taken.
]]

-- @include common.lua

local lease = tonumber(ARGV[3])
local now = now_ms(ARGV[4])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
-- The key outlives its latest lease (workers may run other lease lengths: never shorten).
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
