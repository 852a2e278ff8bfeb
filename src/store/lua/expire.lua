-- The sweeper found a deadline that passed. Expires the verification once, whoever runs it.
-- KEYS: verification, events, expiry deadlines
-- ARGV: id, now, minid, keep_until
-- Returns 'expired', 'later' (deadline moved) or 'gone'.
local h = redis.call('HMGET', KEYS[1], 'st', 'exp')
if not h[1] or h[1] ~= 'pending' then
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 'gone'
end
local now = tonumber(ARGV[2])
if now < tonumber(h[2]) then
  redis.call('ZADD', KEYS[3], h[2], ARGV[1])
  return 'later'
end
finish(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[1], 'expired', 'verification.expired', now, ARGV[4])
return 'expired'
