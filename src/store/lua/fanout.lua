-- Turns one event into a stored message and one delivery per endpoint, and acknowledges the
-- event, atomically. Running it twice for the same event changes nothing the second time.
-- KEYS[1] events               the partition's event stream
-- KEYS[2] message              the stored message and its per-endpoint state
-- KEYS[3] deliver_stream
-- KEYS[4] tenant_events        the tenant's event ids by time
-- KEYS[5] verification         the record the event is about (or a placeholder)
-- ARGV[1] group                the event stream's consumer group
-- ARGV[2] entry_id             the event's stream entry, acknowledged here
-- ARGV[3] event_id
-- ARGV[4] type
-- ARGV[5] tenant
-- ARGV[6] at
-- ARGV[7] body                 sealed
-- ARGV[8] keep_until
-- ARGV[9] minid                the streams' trim point
-- ARGV[10] receipt_kid         '' = no receipt
-- ARGV[11] signature_a         the receipt signature's first half
-- ARGV[12] signature_b         and its second half (each fits a listpack entry)
-- ARGV[13] receipt_id
-- ARGV[14] sealed_phone        '' = none
-- ARGV[15] sealed_to           '' = none
-- ARGV[16..] endpoint          one id per endpoint that subscribes to the type
if redis.call('EXISTS', KEYS[2]) == 0 then
  local eps = {}
  for i = 16, #ARGV do eps[#eps + 1] = ARGV[i] end
  redis.call('HSET', KEYS[2], 'type', ARGV[4], 'tenant', ARGV[5], 'at', ARGV[6], 'body', ARGV[7],
    'eps', table.concat(eps, ','))
  for _, ep in ipairs(eps) do
    redis.call('HSET', KEYS[2], 's:' .. ep, 'pending', 'n:' .. ep, 0)
    -- The first attempt finds the tenant and body in its entry: no read of the message.
    redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[9], '*', 'eid', ARGV[3], 'ep', ep, 't', ARGV[5], 'b', ARGV[7])
  end
  redis.call('PEXPIREAT', KEYS[2], ARGV[8])
  redis.call('ZADD', KEYS[4], ARGV[6], ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[9])
  redis.call('PEXPIREAT', KEYS[4], ARGV[8])
  -- The receipt itself is rebuilt from the record when asked for: only its seal is kept.
  if ARGV[10] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 and redis.call('HEXISTS', KEYS[5], 'kid') == 0 then
    redis.call('HSET', KEYS[5], 'kid', ARGV[10], 'sg1', ARGV[11], 'sg2', ARGV[12], 'rid', ARGV[13])
  end
  -- The verification has ended, and its record outlives its open period: its number and address
  -- are kept sealed from now on (written once; a sealed value starts with `sealed:`).
  if ARGV[14] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then
    local keep_record = redis.call('PEXPIRETIME', KEYS[5])
    for _, sealed_field in ipairs({{'ph', ARGV[14]}, {'to', ARGV[15]}}) do
      local field, sealed = sealed_field[1], sealed_field[2]
      local now = get(KEYS[5], field)
      if sealed ~= '' and now and string.sub(now, 1, 7) ~= 'sealed:' then put(KEYS[5], field, sealed, keep_record) end
    end
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
