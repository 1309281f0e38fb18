--[[
set-if-greater.lua: raises a user's notes generation, never lowers it (a late writer must not
move a generation back), and refreshes its TTL either way.
KEYS[1] the generation (STRING, an integer)
ARGV[1] proposed generation, ARGV[2] TTL seconds
Returns the generation now stored: the proposed one if it was greater, else the current one.
]]
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
local proposed = tonumber(ARGV[1])
if proposed > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return proposed
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return current
