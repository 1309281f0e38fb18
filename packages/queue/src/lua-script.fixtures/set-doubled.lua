--[[
set-doubled.lua: a fixture for lua-script.int.test.ts.
KEYS[1] a STRING key
ARGV[1] a value
Returns OK after setting KEYS[1] to ARGV[1] twice over (via the included helper).
]]
-- @include helper.lua
return redis.call('SET', KEYS[1], doubled(ARGV[1]))
