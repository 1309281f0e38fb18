--[[
helper.lua: a helper for lua-script.int.test.ts, inlined by `-- @include helper.lua`.
Not a script of its own: no KEYS, no ARGV, no return.
]]
local function doubled(value) return value .. value end
