-- Shared by every state-changing script. Each script touches KEYS of one hash slot only.

-- Constant-time equality for equal-length hex digests.
local function ct_eq(a, b)
  if type(a) ~= 'string' or type(b) ~= 'string' or #a ~= #b then return false end
  local d = 0
  for i = 1, #a do d = bit.bor(d, bit.bxor(string.byte(a, i), string.byte(b, i))) end
  return d == 0
end

-- Appends one event to the partition's outbox stream, trimming what is past retention.
local function emit(events, minid, evtype, id, tenant, now)
  return redis.call('XADD', events, 'MINID', '~', minid, '*',
    'type', evtype, 'vid', id, 'tenant', tenant, 'at', now)
end

-- Moves a pending verification to a final status and emits its event: once, atomically.
-- `deadlines` is the partition's expiry set; a finished verification leaves it.
local function finish(vkey, events, deadlines, minid, id, status, evtype, now, expire_at)
  local tenant = redis.call('HGET', vkey, 't')
  redis.call('HSET', vkey, 'st', status, 'done', now)
  redis.call('PEXPIREAT', vkey, expire_at)
  redis.call('ZREM', deadlines, id)
  emit(events, minid, evtype, id, tenant, now)
end
