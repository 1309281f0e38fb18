--[[
guarded-append.lua: appends one event to a query's stream unless the stream has ended or
another run owns it, and refreshes the stream's TTL.
KEYS[1] the query's stream (STREAM: fields `type`, `data`)
KEYS[2] its owner (HASH: `token` of the run that may write to it, `seq` of the last event it wrote)
ARGV[1] owner token ('' = no owner check), ARGV[2] '1' = claim ownership, ARGV[3] the event's
        sequence number in this run (0 = none), ARGV[4] event type, ARGV[5] event JSON,
        ARGV[6] approximate max length, ARGV[7] TTL seconds, ARGV[8] the query's notification
        channel: every append PUBLISHes there, so readers catch up (API stream reader). The
        message is "<new id>\n<id of the entry before it, 0 for none>\n<event JSON>", the entry
        itself (a reader whose cursor is that previous id takes it without reading the stream);
        after a takeover's two entries it is the `restart` entry's id alone ("read again")
        ARGV[9] JSON of the `restart` event a claim appends after its event when an earlier
        run already wrote to the stream (a takeover: its readers must discard that run's tokens)
Returns the new entry id; 'dup' for an event this run already wrote (a command re-sent after
a reconnect); false (nil) when refused: the stream has ended, or another run owns it. An owner
check that finds no owner recorded (the hash was lost with Redis' data) re-claims for the run
instead of refusing it: only a different recorded token means another run.
]]
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local lastType = nil
if last[1] then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'type' then lastType = fields[i + 1] end
  end
  if lastType == 'done' or lastType == 'error' then return false end
end
local seq = tonumber(ARGV[3])
if ARGV[2] == '1' then
  if redis.call('HGET', KEYS[2], 'token') == ARGV[1] then return 'dup' end
  redis.call('HSET', KEYS[2], 'token', ARGV[1], 'seq', seq)
  redis.call('EXPIRE', KEYS[2], ARGV[7])
  -- Anything but the API's `queued` before this claim was written by an earlier run.
  if lastType ~= nil and lastType ~= 'queued' and ARGV[9] ~= nil and ARGV[9] ~= '' then
    local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'type', ARGV[4], 'data', ARGV[5])
    local restart = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'type', 'restart', 'data', ARGV[9])
    redis.call('EXPIRE', KEYS[1], ARGV[7])
    redis.call('PUBLISH', ARGV[8], restart)
    return id
  end
elseif ARGV[1] ~= '' then
  local owner = redis.call('HMGET', KEYS[2], 'token', 'seq')
  if owner[1] == false then
    -- No owner recorded (Redis lost it): nobody else runs this query's stream; this run takes it.
    redis.call('HSET', KEYS[2], 'token', ARGV[1], 'seq', seq)
    redis.call('EXPIRE', KEYS[2], ARGV[7])
  else
    if owner[1] ~= ARGV[1] then return false end
    if seq > 0 and seq <= tonumber(owner[2] or '0') then return 'dup' end
    redis.call('HSET', KEYS[2], 'seq', seq)
  end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[6], '*', 'type', ARGV[4], 'data', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[7])
local previous = '0'
if last[1] then previous = last[1][1] end
redis.call('PUBLISH', ARGV[8], id .. '\n' .. previous .. '\n' .. ARGV[5])
return id
