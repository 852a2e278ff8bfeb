-- An opt-out the marketer received elsewhere, for a consent confirmed here.
-- KEYS: verification, events   ARGV: id, tenant, now, minid, source, suppress_until
-- Returns {'withdrawn', stream_id}, {'not_confirmed'}, {'already'} or {'missing'}.
local h = redis.call('HMGET', KEYS[1], 't', 'st', 'wd', 'ps')
if not h[1] or h[1] ~= ARGV[2] then return {'missing'} end
if h[2] ~= 'confirmed' then return {'not_confirmed'} end
if h[3] then return {'already'} end
redis.call('HSET', KEYS[1], 'wd', ARGV[3], 'wsrc', ARGV[5])
if h[4] then suppress(consent_index(KEYS[1], h[1], h[4]), ARGV[6]) end
local sid = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[4], '*',
  'type', 'consent.withdrawn', 'vid', ARGV[1], 'tenant', ARGV[2], 'at', ARGV[3], 'src', ARGV[5])
return {'withdrawn', sid}
