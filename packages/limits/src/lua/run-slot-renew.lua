--[[
run-slot-renew.lua: extends a job's run-slot lease, only if the job still holds it (a lease that
already expired may have been taken by another job, so it is not revived).

KEYS[1] the user's leases  ZSET job id -> lease expiry ms

ARGV[1] job id
ARGV[2] lease, ms
ARGV[3] time override, ms since epoch, for tests; '' = Redis TIME

Returns 1 when the lease was extended, 0 when the job no longer held a slot.
]]

-- @include common.lua

local lease = tonumber(ARGV[2])
local now = now_ms(ARGV[3])

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return 1
