-- KEYS[1] verification
-- KEYS[2] events                the partition's event stream
-- ARGV[1] id
-- ARGV[2] tenant                another tenant's id reads as missing
-- ARGV[3] code_mac              the typed code's MAC under the current server key
-- ARGV[4] now
-- ARGV[5] minid                 the event stream's trim point
-- ARGV[6] keep_until_failed
-- ARGV[7] keep_until_confirmed
-- ARGV[8] source                'api' or 'page'
-- ARGV[9] ip
-- ARGV[10] user_agent
-- ARGV[11..] previous_mac       the same code's MAC under each previous server key: during a
--                               key rotation's overlap a code made under an old key still matches
-- Returns {outcome, status, attempts_remaining}; outcome is 'missing', 'final' or 'counted'.
local v = KEYS[1]
local h = redis.call('HMGET', v, 't', 'st', 'att', 'max', 'exp', 'cm', 'm')
if not h[1] or h[1] ~= ARGV[2] then return {'missing', '', 0} end
-- A call verification is settled by the call outcome, never by a code.
if h[7] == 'call' then return {'missing', '', 0} end
local now = tonumber(ARGV[4])
local att, max = tonumber(h[3]), tonumber(h[4])
if h[2] ~= 'pending' then return {'final', h[2], math.max(max - att, 0)} end
if now >= tonumber(h[5]) then
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'expired', 'verification.expired', now, ARGV[6])
  return {'final', 'expired', math.max(max - att, 0)}
end
att = redis.call('HINCRBY', v, 'att', 1)
-- Every mac is compared, so the time taken does not tell which key matched.
local match = ct_eq(h[6], ARGV[3])
for i = 11, #ARGV do match = ct_eq(h[6], ARGV[i]) or match end
if match then
  redis.call('HSET', v, 'src', ARGV[8], 'cip', ARGV[9])
  put(v, 'cua', ARGV[10], ARGV[7])
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'confirmed', 'consent.confirmed', now, ARGV[7], tonumber(ARGV[6]) - now)
  return {'final', 'confirmed', max - att}
end
if att >= max then
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'failed', 'verification.failed', now, ARGV[6])
  return {'final', 'failed', 0}
end
return {'counted', 'pending', max - att}
