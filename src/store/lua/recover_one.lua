-- Queues one stored message again for one endpoint, as a recovery asks: unless the endpoint
-- has it (delivered), it is already on its way (pending), this recovery queued it before, or
-- the endpoint does not take its type. An endpoint the message never went to is added to it.
-- The delivery keeps the message's id: consent stores deduplicate on `webhook-id`.
-- KEYS[1] message
-- KEYS[2] deliver_stream
-- KEYS[3] retries
-- KEYS[4] dead_letters
-- ARGV[1] event_id
-- ARGV[2] endpoint
-- ARGV[3] recovery             names the recovery (its `since`), so a rerun queues nothing twice
-- ARGV[4] types                the endpoint's event types, comma-separated; '' = every type
-- ARGV[5] minid                the deliver stream's trim point
-- Returns 'queued', 'had', 'skipped' or 'gone'.
local ep = ARGV[2]
local h = redis.call('HMGET', KEYS[1], 'type', 's:' .. ep, 'r:' .. ep, 'eps')
if not h[1] then return 'gone' end
if h[1] ~= 'consent.withdrawn' and ARGV[4] ~= '' and not string.find(',' .. ARGV[4] .. ',', ',' .. h[1] .. ',', 1, true) then
  return 'skipped'
end
if h[2] == 'delivered' then return 'had' end
if h[2] == 'pending' or h[3] == ARGV[3] then return 'skipped' end
if not h[2] then
  local eps = h[4] or ''
  redis.call('HSET', KEYS[1], 'eps', eps == '' and ep or (eps .. ',' .. ep))
end
local member = ARGV[1] .. '|' .. ep
redis.call('ZREM', KEYS[3], member)
redis.call('ZREM', KEYS[4], member)
redis.call('HSET', KEYS[1], 's:' .. ep, 'pending', 'n:' .. ep, 0, 'r:' .. ep, ARGV[3])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[5], '*', 'eid', ARGV[1], 'ep', ep)
return 'queued'
