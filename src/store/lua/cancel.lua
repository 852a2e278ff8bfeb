-- KEYS: verification, events
-- ARGV: id, tenant, now, minid, keep_until
-- Returns {'missing'}, {'final', status} or {'canceled'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 't', 'st')
if not h[1] or h[1] ~= ARGV[2] then return {'missing'} end
if h[2] ~= 'pending' then return {'final', h[2]} end
finish(v, KEYS[2], ARGV[4], ARGV[1], 'canceled', 'verification.canceled', tonumber(ARGV[3]), ARGV[5])
return {'canceled'}
