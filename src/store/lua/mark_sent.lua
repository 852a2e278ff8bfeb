-- A worker handed a message to its transport.
-- KEYS: verification, expiry deadlines
-- ARGV: now, delivery_state, announcement_sha256 (or ''), new_expiry (or '', after quiet hours), id
-- Never recreates a verification that expired meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'sent', ARGV[1])
redis.call('HSET', KEYS[1], 'dlv', ARGV[2], 'last_sent', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'ns', 1)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'ann_h', ARGV[3], 'ann_at', ARGV[1]) end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
  -- The expiry clock starts when a held message is finally sent.
  redis.call('HSET', KEYS[1], 'exp', ARGV[4])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
end
return 1
