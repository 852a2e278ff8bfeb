-- The sweeper: expires pending verifications whose deadline passed, and consents whose term
-- ended (`consent.expired`, once: `xpd` marks it), from the buckets that came due. Taking an
-- entry and acting on it happen in this one script, so no deadline is lost; any number of
-- sweepers may run, and each verification or consent expires once.
-- KEYS[1] deadlines            the partition's deadline buckets
-- KEYS[2] events
-- ARGV[1] now
-- ARGV[2] limit                at most this many entries
-- ARGV[3] minid                the event stream's trim point
-- ARGV[4] keep_until           when an expired record goes
-- Returns how many entries it took (expired, moved to a later bucket, or no longer pending).
local now, left = tonumber(ARGV[1]), tonumber(ARGV[2])
local tag = tag_of(KEYS[1])
local taken = 0
for _, b in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 8)) do
  local lkey = tag .. ':ex:' .. b
  local ids = redis.call('LPOP', lkey, left) or {}
  for _, id in ipairs(ids) do
    local vkey = tag .. ':v:' .. id
    local h = redis.call('HMGET', vkey, 'st', 'exp', 'wd', 'cx', 'xpd', 't')
    if h[1] == 'pending' then
      if now >= tonumber(h[2]) then
        finish(vkey, KEYS[2], ARGV[3], id, 'expired', 'verification.expired', now, ARGV[4])
      else
        deadline(KEYS[1], id, h[2])
      end
    elseif h[1] == 'confirmed' and h[4] and not h[3] and not h[5] then
      if now >= tonumber(h[4]) then
        redis.call('HSET', vkey, 'xpd', now)
        emit(KEYS[2], ARGV[3], 'consent.expired', id, h[6], now)
      else
        deadline(KEYS[1], id, h[4])
      end
    end
  end
  taken = taken + #ids
  left = left - #ids
  if redis.call('EXISTS', lkey) == 0 then redis.call('ZREM', KEYS[1], b) end
  if left <= 0 then break end
end
return taken
