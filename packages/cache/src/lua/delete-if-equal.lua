--[[
delete-if-equal.lua: releases a single-flight marker only if it still names the given query, so
a query that ends late never clears the marker of the query that replaced it.
KEYS[1] the marker (STRING: the query id now answering the question)
ARGV[1] the query id expected in it
Returns 1 if the marker was deleted, 0 if it named another query or was gone.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
