--[[
fails.lua: a fixture for lua-script.int.test.ts.
KEYS none, ARGV none
Returns an error reply 'nope'.
]]
return redis.error_reply('nope')
