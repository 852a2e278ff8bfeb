-- KEYS: verification, send stream, expiry deadlines
-- ARGV: id, expire_at, minid, expires_ms, field/value pairs...
-- Returns {'created'} or {'exists', body_hash, tenant}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'bh', 't')
  return {'exists', h[1] or '', h[2] or ''}
end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'vid', ARGV[1], 'kind', 'initial')
return {'created'}
