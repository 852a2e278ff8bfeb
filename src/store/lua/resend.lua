-- KEYS: verification, events, send stream
-- ARGV: id, tenant, now, minid, keep_until_expired
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
