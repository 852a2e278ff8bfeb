-- A code typed on the consents page. The right one ends the challenge and opens a session bound
-- to the pseudonym of the number (or address); a wrong one spends an attempt, and the last one closes it.
-- KEYS[1] challenge
-- KEYS[2] session              opened on the right code, in the same partition
-- ARGV[1] tenant               another tenant's challenge reads as missing
-- ARGV[2] code_mac
-- ARGV[3] session_ttl_ms
-- Returns {'ok'}, {'counted', attempts_left}, {'final'} or {'missing'}.
local h = redis.call('HMGET', KEYS[1], 'tenant', 'ps', 'mac', 'addr', 'left', 'kind')
if not h[1] or h[1] ~= ARGV[1] then return {'missing'} end
local left = tonumber(h[5]) or 0
if left <= 0 then return {'final'} end
if h[3] ~= '' and ct_eq(h[3], ARGV[2]) then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'tenant', h[1], 'ps', h[2], 'addr', h[4], 'kind', h[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
  return {'ok'}
end
left = left - 1
redis.call('HSET', KEYS[1], 'left', left)
if left <= 0 then return {'final'} end
return {'counted', left}
