-- A worker handed a message to its transport.
-- KEYS: verification
-- ARGV: now, delivery_state
-- Never recreates a verification that expired meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'sent', ARGV[1])
redis.call('HSET', KEYS[1], 'dlv', ARGV[2], 'last_sent', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'ns', 1)
return 1
