-- Sends a message again to every endpoint it went to, on a fresh retry schedule.
-- KEYS: message, deliver stream, retry set, dead-letter set   ARGV: event_id, minid
-- Returns the number of deliveries queued, or -1 when the message is gone.
local eps = redis.call('HGET', KEYS[1], 'eps')
if not eps then return -1 end
local n = 0
for ep in string.gmatch(eps, '[^,]+') do
  local member = ARGV[1] .. '|' .. ep
  redis.call('ZREM', KEYS[3], member)
  redis.call('ZREM', KEYS[4], member)
  redis.call('HSET', KEYS[1], 's:' .. ep, 'pending', 'n:' .. ep, 0)
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*', 'eid', ARGV[1], 'ep', ep)
  n = n + 1
end
return n
