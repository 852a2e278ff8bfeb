-- Turns one event into a stored message and one delivery per endpoint, and acknowledges the
-- event, atomically. Running it twice for the same event changes nothing the second time.
-- KEYS: events, message, deliver stream, tenant's event index, verification
-- ARGV: group, entry_id, event_id, type, tenant, at, body, keep_until, minid,
--       receipt kid ('' = none), signature first half, second half, receipt id,
--       sealed number ('' = none), sealed address ('' = none), endpoint ids...
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
    for i, field in ipairs({'ph', 'to'}) do
      local sealed, now = ARGV[13 + i], get(KEYS[5], field)
      if sealed ~= '' and now and string.sub(now, 1, 7) ~= 'sealed:' then put(KEYS[5], field, sealed, keep_record) end
    end
  end
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
