-- The consumer pressed a button on the confirm page.
-- KEYS: verification, events
-- ARGV: id, token_hash, action ('confirmed'|'declined'), now, minid, keep_until_declined,
--       keep_until_confirmed, client_ip, user_agent, suppress_until
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
