-- An opt-out the marketer received elsewhere, for a consent confirmed here.
-- KEYS[1] verification
-- KEYS[2] events
-- ARGV[1] id
-- ARGV[2] tenant               another tenant's id reads as missing
-- ARGV[3] now
-- ARGV[4] minid                the event stream's trim point
-- ARGV[5] source               where the withdrawal came from ('api', ...)
-- ARGV[6] suppress_until       campaigns keep away from the number until then
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
