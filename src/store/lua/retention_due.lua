-- A recording's retention date is near: remind the tenant's systems, once.
-- KEYS[1] retention_reminders
-- KEYS[2] events
-- KEYS[3] verification
-- ARGV[1] id
-- ARGV[2] minid                  the event stream's trim point
-- ARGV[3] now
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local tenant = redis.call('HGET', KEYS[3], 't')
if not tenant then return 0 end
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*',
  'type', 'recording.retention_due', 'vid', ARGV[1], 'tenant', tenant, 'at', ARGV[3])
return 1
