--[[
common.lua: helpers inlined into the limits scripts where a script says `-- @include common.lua`.
Not a script of its own: no KEYS, no ARGV, no return.

Budget scope layout (one user's, or the global one), written only by reserve.lua and settle.lua:
  hash  HASH  day       UTC day number (ms since epoch / 86400000) that `spent` belongs to
              spent     micro-dollars settled that day
              reserved  micro-dollars held by open reservations (sum of the r:* fields)
              r:<id>    micro-dollars held for query <id>
  zset  ZSET  query id -> reservation expiry (ms); the index that finds reservations to prune
Both keys always get the same TTL in the same call, so they expire together and a reservation
amount can never outlive its expiry entry.
]]

local DAY_MS = 86400000

-- Milliseconds from Redis's own clock (so every API replica and worker agrees), unless a test
-- passes an explicit time.
local function now_ms(override)
  if override ~= nil and override ~= '' then
    return tonumber(override)
  end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Today's spent and reserved micro-dollars of one scope, not counting reservations that have
-- expired (a worker died before settling). Read-only; also returns the expired query ids.
local function budget_read(hash, zset, today, now)
  local fields = redis.call('HMGET', hash, 'day', 'spent', 'reserved')
  local spent = 0
  if tonumber(fields[1]) == today then
    spent = tonumber(fields[2]) or 0
  end
  local reserved = tonumber(fields[3]) or 0
  local expired = redis.call('ZRANGEBYSCORE', zset, '-inf', now)
  for _, query_id in ipairs(expired) do
    reserved = reserved - (tonumber(redis.call('HGET', hash, 'r:' .. query_id)) or 0)
  end
  if reserved < 0 then
    reserved = 0
  end
  return spent, reserved, expired
end

-- Drops expired reservations for good (the money was never spent as far as we know; if the
-- worker does settle later, settle records the actual cost without a reservation).
local function budget_prune(hash, zset, expired)
  for _, query_id in ipairs(expired) do
    local amount = tonumber(redis.call('HGET', hash, 'r:' .. query_id))
    if amount then
      redis.call('HDEL', hash, 'r:' .. query_id)
      -- `0 - x`, not `-x`: Lua's -0 reaches Redis as "-0", which HINCRBY rejects.
      redis.call('HINCRBY', hash, 'reserved', 0 - amount)
    end
    redis.call('ZREM', zset, query_id)
  end
end

-- Starts a new UTC day's spend when the stored one is older; open reservations carry over.
local function budget_roll_day(hash, today)
  if tonumber(redis.call('HGET', hash, 'day')) ~= today then
    redis.call('HSET', hash, 'day', today, 'spent', 0)
  end
end

-- Refreshes the TTL of a scope's two keys together.
local function budget_touch(hash, zset, ttl_seconds)
  redis.call('EXPIRE', hash, ttl_seconds)
  redis.call('EXPIRE', zset, ttl_seconds)
end
