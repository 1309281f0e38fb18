--[[
budget-spent.lua: today's (UTC day from Redis TIME) spent and reserved micro-dollars of a user
and globally. Prunes expired reservations on the way, so the figures never include a reservation
whose worker died.

KEYS[1] user budget          HASH (layout in common.lua)
KEYS[2] user reservations    ZSET query id -> expiry ms
KEYS[3] global budget        HASH
KEYS[4] global reservations  ZSET

ARGV[1] TTL of the budget keys, seconds (refreshed only when pruning writes)
ARGV[2] time override, ms since epoch, for tests; '' = Redis TIME

Returns { UTC day number, user spent, user reserved, global spent, global reserved }
]]

-- @include common.lua

local ttl = tonumber(ARGV[1])
local now = now_ms(ARGV[2])
local today = math.floor(now / DAY_MS)

local reply = { today }
for _, scope in ipairs({ { KEYS[1], KEYS[2] }, { KEYS[3], KEYS[4] } }) do
  local spent, reserved, expired = budget_read(scope[1], scope[2], today, now)
  if #expired > 0 then
    budget_prune(scope[1], scope[2], expired)
    budget_touch(scope[1], scope[2], ttl)
  end
  reply[#reply + 1] = spent
  reply[#reply + 1] = reserved
end
return reply
