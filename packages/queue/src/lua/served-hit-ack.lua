--[[
served-hit-ack.lua: forgets log entries whose rows Postgres now holds: acknowledges and deletes
them (a stream keeps acknowledged entries otherwise). The row copies expire by themselves.
KEYS[1] the served-hits log (STREAM)
ARGV[1] the consumer group, ARGV[2..n] entry ids
Returns the number of entries deleted.
]]
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
return redis.call('XDEL', KEYS[1], unpack(ids))
