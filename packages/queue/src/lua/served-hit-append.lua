--[[
served-hit-append.lua: records a cache hit the API served, before Postgres has it: a readable
copy of its row and an entry in the log the writers store from, in one step (both or neither).
KEYS[1] the served-hits log (STREAM: fields `id`, `row`)
KEYS[2] the hit's row copy (STRING: the row JSON)
ARGV[1] query id, ARGV[2] row JSON, ARGV[3] TTL of the row copy in milliseconds
Returns the log entry id.
]]
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return redis.call('XADD', KEYS[1], '*', 'id', ARGV[1], 'row', ARGV[2])
