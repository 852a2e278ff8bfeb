-- KEYS: verification, send stream, deadline buckets, consent index
-- ARGV: id, keep_until, minid, expires_ms, now, refuse_if_suppressed ('1' or ''), field/value pairs...
-- Returns {'created'}, {'exists', body_hash, tenant} or {'suppressed'}.
if redis.call('EXISTS', KEYS[1]) == 1 then
  local h = redis.call('HMGET', KEYS[1], 'bh', 't')
  return {'exists', h[1] or '', h[2] or ''}
end
if ARGV[6] == '1' and tonumber(redis.call('HGET', KEYS[4], '!') or '0') > tonumber(ARGV[5]) then
  return {'suppressed'}
end
-- A new record: every field in one HSET, long values by reference (see `put`).
local fields = {}
for i = 7, #ARGV, 2 do
  local f, v = ARGV[i], ARGV[i + 1]
  if #v > 64 then f, v = f .. '@', blob(KEYS[1], v, ARGV[2]) end
  fields[#fields + 1] = f
  fields[#fields + 1] = v
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
deadline(KEYS[3], ARGV[1], ARGV[4])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'vid', ARGV[1], 'kind', 'initial')
local batch = redis.call('HGET', KEYS[1], 'b')
if batch then
  local ck = tag_of(KEYS[1]) .. ':bc:' .. batch
  redis.call('HINCRBY', ck, 'queued', 1)
  index_keep(ck, ARGV[2])
end
return {'created'}
