--[[
reserve.lua: holds a query's worst-case cost against the user's and the global budget of today
(UTC day from Redis TIME), atomically: it passes only when, for BOTH scopes,
spent + reserved + amount <= budget. Idempotent per query id: a second reserve for a query that
holds a reservation, or that was settled, changes nothing. Expired reservations (their worker died
before settling) are pruned first, so they cannot hold budget forever.

KEYS[1] user budget          HASH (layout in common.lua)
KEYS[2] user reservations    ZSET query id -> expiry ms
KEYS[3] global budget        HASH
KEYS[4] global reservations  ZSET
KEYS[5] settled marker of the query

ARGV[1] query id
ARGV[2] amount, micro-dollars (integer >= 0)
ARGV[3] user daily budget, micro-dollars
ARGV[4] global daily budget, micro-dollars
ARGV[5] reservation lifetime, ms
ARGV[6] TTL of the budget keys, seconds
ARGV[7] time override, ms since epoch, for tests; '' = Redis TIME

Returns { outcome, scope, remaining }:
  { 1, 0, 0 } reserved now
  { 1, 1, 0 } already held by this query (nothing changed)
  { 1, 2, 0 } this query was already settled (nothing changed)
  { 0, 1, remaining } refused by the user budget; remaining = budget - spent - reserved (>= 0)
  { 0, 2, remaining } refused by the global budget
]]

-- @include common.lua

local query_id = ARGV[1]
local amount = tonumber(ARGV[2])
local ttl = tonumber(ARGV[6])
local now = now_ms(ARGV[7])
local today = math.floor(now / DAY_MS)

if redis.call('EXISTS', KEYS[5]) == 1 then
  return { 1, 2, 0 }
end

local scopes = {
  { hash = KEYS[1], zset = KEYS[2], budget = tonumber(ARGV[3]) },
  { hash = KEYS[3], zset = KEYS[4], budget = tonumber(ARGV[4]) },
}
for _, scope in ipairs(scopes) do
  local spent, reserved, expired = budget_read(scope.hash, scope.zset, today, now)
  scope.left = scope.budget - spent - reserved
  if #expired > 0 then
    budget_prune(scope.hash, scope.zset, expired)
    budget_touch(scope.hash, scope.zset, ttl)
  end
end

if redis.call('HEXISTS', KEYS[1], 'r:' .. query_id) == 1 then
  return { 1, 1, 0 }
end

for i, scope in ipairs(scopes) do
  if amount > scope.left then
    return { 0, i, scope.left > 0 and scope.left or 0 }
  end
end

for _, scope in ipairs(scopes) do
  budget_roll_day(scope.hash, today)
  redis.call('HSET', scope.hash, 'r:' .. query_id, amount)
  redis.call('HINCRBY', scope.hash, 'reserved', amount)
  redis.call('ZADD', scope.zset, now + tonumber(ARGV[5]), query_id)
  budget_touch(scope.hash, scope.zset, ttl)
end
return { 1, 0, 0 }
