-- The consumer pressed a button on the confirm page.
-- KEYS[1] verification
-- KEYS[2] events                the partition's event stream
-- ARGV[1] id
-- ARGV[2] token_hash            the confirm token's hash, compared in constant time
-- ARGV[3] action                'confirmed' or 'declined'
-- ARGV[4] now
-- ARGV[5] minid                 the event stream's trim point
-- ARGV[6] keep_until_declined
-- ARGV[7] keep_until_confirmed
-- ARGV[8] client_ip
-- ARGV[9] user_agent
-- ARGV[10] suppress_until       campaigns keep away from a number that declined until then
-- Returns {'ok', status} or {'invalid'}: a wrong, used or expired token looks the same.
local v = KEYS[1]
local h = redis.call('HMGET', v, 'st', 'exp', 'ctk')
if not h[1] or not ct_eq(h[3], ARGV[2]) then return {'invalid'} end
if h[1] ~= 'pending' then return {'invalid'} end
local now = tonumber(ARGV[4])
if now >= tonumber(h[2]) then
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'expired', 'verification.expired', now, ARGV[6])
  return {'invalid'}
end
redis.call('HSET', v, 'src', 'link', 'cip', ARGV[8])
put(v, 'cua', ARGV[9], ARGV[7])
if ARGV[3] == 'confirmed' then
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'confirmed', 'consent.confirmed', now, ARGV[7], tonumber(ARGV[6]) - now)
else
  local p = redis.call('HMGET', v, 't', 'ps')
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'declined', 'consent.declined', now, ARGV[6])
  if p[2] then suppress(consent_index(v, p[1], p[2]), ARGV[10]) end
end
return {'ok', ARGV[3]}
