--[[
claim-marker.lua: names a query as a single-flight marker's unless another query is named, and
counts a marker already naming this very query as claimed: a SET NX that ioredis re-sends after a
reconnect (its first send ran, the reply was lost) must not read as lost to another submit, which
would withdraw a query the submit then joins and answers 202.
KEYS[1] the marker (STRING: the query id now answering the question)
ARGV[1] the query id to name, ARGV[2] the marker's TTL in seconds
Returns 1 if the marker names ARGV[1] now, 0 if it names another query.
]]
local current = redis.call('GET', KEYS[1])
if current == false then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
if current == ARGV[1] then return 1 end
return 0
