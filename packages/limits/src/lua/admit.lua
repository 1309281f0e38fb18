--[[
admit.lua: every admission check of one request, checked and counted atomically in one call.

Algorithm: sliding windows over 60 sub-buckets, counted conservatively.
  Each window of length W (minute, hour, day; global hour) is a HASH of bucket index -> count,
  a bucket being W/60 long (1 s, 1 min, 24 min). A request passes a window when the sum of every
  bucket that overlaps (now - W, now] is below the limit; the oldest of those buckets overlaps
  only partly and is counted in full. That sum covers every request of the true rolling window,
  so NO rolling window of length W ever holds more than the limit: a burst at a window edge gets
  nothing extra (a fixed window would let 2x through there). The price of being conservative: a
  request keeps counting up to W/60 longer than W, so a saturated client waits at most 1 s / 1 min
  / 24 min more than a perfect log would make it. Memory is at most 61 small fields a window
  (listpack-encoded: 584 bytes measured for a full one) whatever the limit, where a sliding log
  holds one entry per request (a free user's 500 a day measured 60 KB as a ZSET; an internal
  user's 100,000 would be some 12 MB). A sliding-window counter (two fixed windows, weighted) is
  approximate and lets nearly 2x through when requests bunch at the end of a window; GCRA or a
  token bucket with a burst of the limit lets a full burst plus the refill, up to 2x - 1, through
  one rolling window.

A refusal counts nothing and writes nothing. Every key written gets a TTL here.

KEYS[1] user minute window   HASH bucket -> count
KEYS[2] user hour window     HASH
KEYS[3] user day window      HASH
KEYS[4] global hour window   HASH
KEYS[5] user in-flight set   ZSET query id -> expiry ms
KEYS[6] user budget          HASH (layout in common.lua; read only here)
KEYS[7] user reservations    ZSET (read only here)
KEYS[8] global budget        HASH (read only here)
KEYS[9] global reservations  ZSET (read only here)
KEYS[10] optional: a log to record the admitted request in (STREAM: fields `id`, `row`), e.g. the
         served cache hits; with KEYS[11], its record's readable copy (STRING). Both are written
         only when the request is admitted (and not in a dry run): a refusal records nothing.

ARGV[1]  query id
ARGV[2]  user limit per minute
ARGV[3]  user limit per hour
ARGV[4]  user limit per day
ARGV[5]  global limit per hour
ARGV[6]  max in flight, or '' to neither check nor join the in-flight set (a cache hit)
ARGV[7]  user daily budget micro-dollars, or '' to skip both budget checks (a cache hit)
ARGV[8]  global daily budget micro-dollars
ARGV[9]  lifetime of an in-flight entry, ms (a lost release frees the slot after it)
ARGV[10] retry hint, ms, when only a release can free the limit (in flight, reserved budget)
ARGV[11] time override, ms since epoch, for tests; '' = Redis TIME
ARGV[12] '1' for a dry run: decide and report, but count and write nothing
ARGV[13] with KEYS[10]: the record (the row JSON), stored in the log entry and the copy
ARGV[14] with KEYS[10]: TTL of the copy in milliseconds

Returns an array of integers:
  [1]  1 admitted, 0 refused
  [2]  the refusing check: 0 none; 1 user minute, 2 user hour, 3 user day, 4 global hour,
       5 in flight, 6 user budget, 7 global budget (of several, the one that frees last)
  [3]  ms until the refusing check frees (0 when admitted)
  [4..11] per window (minute, hour, day, global hour): remaining requests, then ms until it
       next frees quota (the refusal's wait when that window refuses)
  [12] in-flight slots remaining, -1 when not checked
  [13] with KEYS[10] and admitted: the log entry id (absent otherwise)
]]

-- @include common.lua

local BUCKETS = 60
local WINDOW_MS = { 60000, 3600000, 86400000, 3600000 }

local query_id = ARGV[1]
local limits = { tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]) }
local check_in_flight = ARGV[6] ~= ''
local check_budget = ARGV[7] ~= ''
local now = now_ms(ARGV[11])
local dry_run = ARGV[12] == '1'

-- A window's live buckets as a dense array: offset 0 is the oldest bucket still counted
-- (current - BUCKETS), offset BUCKETS the current one. No sorting, no table per bucket: this runs
-- four times per request.
local function read_window(key, window_ms)
  local width = window_ms / BUCKETS
  local current = math.floor(now / width)
  local first = current - BUCKETS
  local counts, stale, total = {}, {}, 0
  local flat = redis.call('HGETALL', key)
  for i = 1, #flat, 2 do
    local offset = tonumber(flat[i]) - first
    if offset < 0 then
      stale[#stale + 1] = flat[i]
    else
      local count = tonumber(flat[i + 1])
      counts[offset] = (counts[offset] or 0) + count
      total = total + count
    end
  end
  return { key = key, window_ms = window_ms, width = width, current = current, first = first,
    counts = counts, stale = stale, total = total }
end

-- ms until the window's count drops to at most `target` as its oldest buckets leave it
-- (the bucket at offset o stops counting once the current bucket is first + o + BUCKETS + 1).
local function ms_until_at_most(w, target)
  if w.total <= target then
    return 0
  end
  local total = w.total
  for offset = 0, BUCKETS do
    local count = w.counts[offset]
    if count then
      total = total - count
      if total <= target then
        return (w.first + offset + BUCKETS + 1) * w.width - now
      end
    end
  end
  return w.window_ms -- a limit of 0 never frees; say "one window"
end

local windows = {}
local refusals = {} -- { check, wait ms }
for i = 1, 4 do
  local w = read_window(KEYS[i], WINDOW_MS[i])
  windows[i] = w
  if w.total >= limits[i] then
    refusals[#refusals + 1] = { i, ms_until_at_most(w, limits[i] - 1) }
  end
end

local in_flight_live = 0
local already_in_flight = false
if check_in_flight then
  local max_in_flight = tonumber(ARGV[6])
  in_flight_live = redis.call('ZCOUNT', KEYS[5], '(' .. now, '+inf')
  local score = tonumber(redis.call('ZSCORE', KEYS[5], query_id))
  already_in_flight = score ~= nil and score > now -- a retried admission holds its one slot
  if not already_in_flight and in_flight_live >= max_in_flight then
    local wait = tonumber(ARGV[10])
    local first = redis.call('ZRANGEBYSCORE', KEYS[5], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if first[2] and tonumber(first[2]) - now < wait then
      wait = tonumber(first[2]) - now
    end
    refusals[#refusals + 1] = { 5, wait }
  end
end

if check_budget then
  local today = math.floor(now / DAY_MS)
  local to_midnight = (today + 1) * DAY_MS - now
  local scopes = { { KEYS[6], KEYS[7], tonumber(ARGV[7]), 6 }, { KEYS[8], KEYS[9], tonumber(ARGV[8]), 7 } }
  for _, scope in ipairs(scopes) do
    local spent, reserved = budget_read(scope[1], scope[2], today, now)
    if spent + reserved >= scope[3] then
      -- Spent money only comes back at midnight; reserved money may come back at settlement.
      local wait = to_midnight
      if spent < scope[3] and tonumber(ARGV[10]) < wait then
        wait = tonumber(ARGV[10])
      end
      refusals[#refusals + 1] = { scope[4], wait }
    end
  end
end

local refused_by, refused_wait = 0, 0
for _, refusal in ipairs(refusals) do
  if refusal[2] > refused_wait or refused_by == 0 then
    refused_by, refused_wait = refusal[1], refusal[2]
  end
end

if refused_by == 0 and not dry_run then
  for i = 1, 4 do
    local w = windows[i]
    redis.call('HINCRBY', w.key, w.current, 1)
    if #w.stale > 0 then
      redis.call('HDEL', w.key, unpack(w.stale))
    end
    -- After W plus one bucket every field is stale, so the key may go.
    redis.call('PEXPIRE', w.key, w.window_ms + w.width)
    -- Keep the in-memory view in step for the reply.
    w.total = w.total + 1
    w.counts[BUCKETS] = (w.counts[BUCKETS] or 0) + 1
  end
  if check_in_flight then
    local ttl = tonumber(ARGV[9])
    redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
    redis.call('ZADD', KEYS[5], now + ttl, query_id)
    -- Every member expires by now + ttl at the latest (replicas may run other TTLs: never shorten).
    if redis.call('PTTL', KEYS[5]) < ttl then
      redis.call('PEXPIRE', KEYS[5], ttl)
    end
    if not already_in_flight then
      in_flight_live = in_flight_live + 1
    end
  end
end

local entry_id = nil
if refused_by == 0 and not dry_run and KEYS[10] then
  redis.call('SET', KEYS[11], ARGV[13], 'PX', ARGV[14])
  entry_id = redis.call('XADD', KEYS[10], '*', 'id', query_id, 'row', ARGV[13])
end

local reply = { refused_by == 0 and 1 or 0, refused_by, refused_wait }
for i = 1, 4 do
  local w = windows[i]
  local remaining = limits[i] - w.total
  if remaining < 0 then
    remaining = 0
  end
  -- Below the limit: when the oldest counted request leaves; at it: when the window frees.
  local wait = w.window_ms
  if w.total > 0 then
    wait = ms_until_at_most(w, math.min(w.total, limits[i]) - 1)
  end
  reply[#reply + 1] = remaining
  reply[#reply + 1] = wait
end
if check_in_flight then
  local left = tonumber(ARGV[6]) - in_flight_live
  reply[#reply + 1] = left > 0 and left or 0
else
  reply[#reply + 1] = -1
end
if entry_id then
  reply[#reply + 1] = entry_id
end
return reply
