-- Sends a message again to every endpoint it went to, on a fresh retry schedule.
-- KEYS[1] message
-- KEYS[2] deliver_stream
-- KEYS[3] retries
-- KEYS[4] dead_letters
-- ARGV[1] event_id
-- ARGV[2] minid                the deliver stream's trim point
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
