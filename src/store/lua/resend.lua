-- KEYS[1] verification        the record
-- KEYS[2] events              the partition's event stream
-- KEYS[3] send_stream         where the message is queued again
-- ARGV[1] id
-- ARGV[2] tenant              the caller's tenant: another tenant's id reads as missing
-- ARGV[3] now
-- ARGV[4] minid               the streams' trim point
-- ARGV[5] keep_until_expired  when the record is removed if it expired meanwhile
-- Returns {'missing'}, {'final', status} or {'queued'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 't', 'st', 'exp')
if not h[1] or h[1] ~= ARGV[2] then return {'missing'} end
if h[2] ~= 'pending' then return {'final', h[2]} end
local now = tonumber(ARGV[3])
if now >= tonumber(h[3]) then
  finish(v, KEYS[2], ARGV[4], ARGV[1], 'expired', 'verification.expired', now, ARGV[5])
  return {'final', 'expired'}
end
redis.call('HINCRBY', v, 'rs', 1)
redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[4], '*', 'vid', ARGV[1], 'kind', 'resend')
return {'queued'}
