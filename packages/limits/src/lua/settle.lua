--[[
settle.lua: records a query's actual cost as spent today (UTC day from Redis TIME) for the user
and globally, and frees whatever the query had reserved. At most once per query id: a settled
marker with a TTL makes a second settle a no-op. A query with no reservation (or one that
expired) is recorded all the same, and the actual cost may exceed the reservation: money spent
is counted whatever was held for it.

KEYS[1] user budget          HASH (layout in common.lua)
KEYS[2] user reservations    ZSET query id -> expiry ms
KEYS[3] global budget        HASH
KEYS[4] global reservations  ZSET
KEYS[5] settled marker of the query

ARGV[1] query id
ARGV[2] actual cost, micro-dollars (integer >= 0)
ARGV[3] TTL of the budget keys, seconds
ARGV[4] TTL of the settled marker, ms
ARGV[5] time override, ms since epoch, for tests; '' = Redis TIME

Returns { settled (1 now, 0 already settled before), micro-dollars the query had reserved }
]]

-- @include common.lua

local query_id = ARGV[1]
local actual = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = now_ms(ARGV[5])
local today = math.floor(now / DAY_MS)

if redis.call('EXISTS', KEYS[5]) == 1 then
  return { 0, 0 }
end

local released = 0
for _, scope in ipairs({ { KEYS[1], KEYS[2] }, { KEYS[3], KEYS[4] } }) do
  local hash, zset = scope[1], scope[2]
  local _, _, expired = budget_read(hash, zset, today, now)
  budget_prune(hash, zset, expired)
  budget_roll_day(hash, today)
  local held = tonumber(redis.call('HGET', hash, 'r:' .. query_id))
  if held then
    redis.call('HDEL', hash, 'r:' .. query_id)
    -- `0 - held`, not `-held`: Lua's -0 reaches Redis as "-0", which HINCRBY rejects.
    redis.call('HINCRBY', hash, 'reserved', 0 - held)
    released = held
  end
  redis.call('ZREM', zset, query_id)
  redis.call('HINCRBY', hash, 'spent', actual)
  budget_touch(hash, zset, ttl)
end
redis.call('SET', KEYS[5], 1, 'PX', tonumber(ARGV[4]))
return { 1, released }
