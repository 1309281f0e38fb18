--[[
semantic-store.lua: adds one semantic-cache entry and evicts the oldest beyond the cap.
KEYS[1] index LIST, newest first; each entry starts with its entry id (ARGV[6] bytes)
KEYS[2] answers HASH, entry id -> answer JSON
ARGV[1] entry id, ARGV[2] index entry, ARGV[3] answer JSON, ARGV[4] most entries kept,
ARGV[5] TTL seconds (set on both keys), ARGV[6] length of an entry id in bytes
Returns the number of entries evicted.
]]
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local max = tonumber(ARGV[4])
local id_bytes = tonumber(ARGV[6])
local evicted = 0
while redis.call('LLEN', KEYS[1]) > max do
  local oldest = redis.call('RPOP', KEYS[1])
  redis.call('HDEL', KEYS[2], string.sub(oldest, 1, id_bytes))
  evicted = evicted + 1
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return evicted
