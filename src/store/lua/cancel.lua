-- KEYS[1] verification  the record
-- KEYS[2] events        the partition's event stream
-- ARGV[1] id
-- ARGV[2] tenant        the caller's tenant: another tenant's id reads as missing
-- ARGV[3] now
-- ARGV[4] minid         the event stream's trim point
-- ARGV[5] keep_until    when the canceled record is removed
-- Returns {'missing'}, {'final', status} or {'canceled'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 't', 'st')
if not h[1] or h[1] ~= ARGV[2] then return {'missing'} end
if h[2] ~= 'pending' then return {'final', h[2]} end
finish(v, KEYS[2], ARGV[4], ARGV[1], 'canceled', 'verification.canceled', tonumber(ARGV[3]), ARGV[5])
return {'canceled'}
