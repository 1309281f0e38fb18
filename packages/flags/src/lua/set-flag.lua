--[[
set-flag.lua: sets (or clears) one flag's runtime override, bumps the flags version and records
the change, in one atomic call, so every change is logged exactly once and a process that sees
the new version reads the new rules. Optionally compare-and-set: the canary guard rolls back
only the override it judged, never one an admin changed in the meantime.

KEYS[1] rules     HASH flag name -> override JSON
KEYS[2] version   STRING counter
KEYS[3] changes   LIST of change JSON, newest first

ARGV[1] flag name
ARGV[2] new override JSON, or '' to clear the override (back to the config default)
ARGV[3] expected current override JSON ('' = none), or '*' to set whatever it is
ARGV[4] the change record's head: a JSON object's members without braces, e.g.
        "flag":"x","actor":"admin","reason":null,"at":"..."
ARGV[5] most changes kept

Returns { 1 set / 0 refused (the override was not the expected one), the override before ('' = none) }
]]

local name = ARGV[1]
local after = ARGV[2]
local before = redis.call('HGET', KEYS[1], name)
if not before then before = '' end

if ARGV[3] ~= '*' and ARGV[3] ~= before then
  return { 0, before }
end

if after == '' then
  redis.call('HDEL', KEYS[1], name)
else
  redis.call('HSET', KEYS[1], name, after)
end
redis.call('INCR', KEYS[2])

local function orNull(text)
  if text == '' then return 'null' end
  return text
end
redis.call('LPUSH', KEYS[3], '{' .. ARGV[4] .. ',"before":' .. orNull(before) .. ',"after":' .. orNull(after) .. '}')
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
return { 1, before }
