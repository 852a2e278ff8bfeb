-- The sweeper: expires pending verifications whose deadline passed, from the buckets that came
-- due. Taking an entry and expiring its verification happen in this one script, so no
-- deadline is lost; any number of sweepers may run, and each verification expires once.
-- KEYS: deadline buckets, events   ARGV: now, limit, minid, keep_until
-- Returns how many entries it took (expired, moved to a later bucket, or no longer pending).
local now, left = tonumber(ARGV[1]), tonumber(ARGV[2])
local tag = tag_of(KEYS[1])
local taken = 0
for _, b in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 8)) do
  local lkey = tag .. ':ex:' .. b
  local ids = redis.call('LPOP', lkey, left) or {}
  for _, id in ipairs(ids) do
    local vkey = tag .. ':v:' .. id
    local h = redis.call('HMGET', vkey, 'st', 'exp')
    if h[1] == 'pending' then
      if now >= tonumber(h[2]) then
        finish(vkey, KEYS[2], ARGV[3], id, 'expired', 'verification.expired', now, ARGV[4])
      else
        deadline(KEYS[1], id, h[2])
      end
    end
  end
  taken = taken + #ids
  left = left - #ids
  if redis.call('EXISTS', lkey) == 0 then redis.call('ZREM', KEYS[1], b) end
  if left <= 0 then break end
end
return taken
