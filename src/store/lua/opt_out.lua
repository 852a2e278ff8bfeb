-- "Not me" / withdraw from the link in a message.
-- KEYS: verification, events, expiry deadlines
-- ARGV: id, token_hash, now, minid, keep_until_declined, client_ip, user_agent
-- Returns {'declined'} for a pending verification, {'withdrawn'} for a confirmed consent,
-- {'already'} when nothing is left to stop, or {'invalid'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 'st', 'otk', 'wd', 't')
if not h[1] or not ct_eq(h[2], ARGV[2]) then return {'invalid'} end
local now = tonumber(ARGV[3])
if h[1] == 'pending' then
  redis.call('HSET', v, 'src', 'optout', 'cip', ARGV[6], 'cua', ARGV[7])
  finish(v, KEYS[2], KEYS[3], ARGV[4], ARGV[1], 'declined', 'consent.declined', now, ARGV[5])
  return {'declined'}
end
if h[1] == 'confirmed' and not h[3] then
  redis.call('HSET', v, 'wd', now, 'wsrc', 'link', 'wip', ARGV[6])
  emit(KEYS[2], ARGV[4], 'consent.withdrawn', ARGV[1], h[4], now)
  return {'withdrawn'}
end
return {'already'}
