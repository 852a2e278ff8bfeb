-- "Not me" / withdraw from the link in a message.
-- KEYS: verification, events
-- ARGV: id, token_hash, now, minid, keep_until_declined, client_ip, user_agent, suppress_until
-- Returns {'declined'} for a pending verification, {'withdrawn'} for a confirmed consent,
-- {'already'} when nothing is left to stop, or {'invalid'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 'st', 'otk', 'wd', 't', 'ps')
if not h[1] or not ct_eq(h[2], ARGV[2]) then return {'invalid'} end
local now = tonumber(ARGV[3])
if h[1] == 'pending' then
  redis.call('HSET', v, 'src', 'optout', 'cip', ARGV[6])
  put(v, 'cua', ARGV[7], ARGV[5])
  finish(v, KEYS[2], ARGV[4], ARGV[1], 'declined', 'consent.declined', now, ARGV[5])
  if h[5] then suppress(consent_index(v, h[4], h[5]), ARGV[8]) end
  return {'declined'}
end
if h[1] == 'confirmed' and not h[3] then
  redis.call('HSET', v, 'wd', now, 'wsrc', 'link', 'wip', ARGV[6])
  emit(KEYS[2], ARGV[4], 'consent.withdrawn', ARGV[1], h[4], now)
  if h[5] then suppress(consent_index(v, h[4], h[5]), ARGV[8]) end
  return {'withdrawn'}
end
return {'already'}
