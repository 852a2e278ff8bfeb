-- A worker handed a message to its transport.
-- KEYS: verification, expiry deadlines, send attempts
-- ARGV: now, announcement_sha256 (or ''), new_expiry (or '', after quiet hours), id, provider,
--       provider reference, retention_ms, attempt JSON...
-- Never recreates a verification that expired meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'sent', ARGV[1])
redis.call('HSET', KEYS[1], 'dlv', 'sent', 'last_sent', ARGV[1], 'prov', ARGV[5], 'pref', ARGV[6])
redis.call('HINCRBY', KEYS[1], 'ns', 1)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'ann_h', ARGV[2], 'ann_at', ARGV[1]) end
if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
  -- The expiry clock starts when a held message is finally sent.
  redis.call('HSET', KEYS[1], 'exp', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
  local keep = tonumber(ARGV[3]) + tonumber(ARGV[7])
  if redis.call('PEXPIRETIME', KEYS[1]) < keep then redis.call('PEXPIREAT', KEYS[1], keep) end
end
for i = 8, #ARGV do redis.call('RPUSH', KEYS[3], ARGV[i]) end
redis.call('LTRIM', KEYS[3], -50, -1)
redis.call('PEXPIRE', KEYS[3], math.max(redis.call('PTTL', KEYS[1]), 1000))
return 1
