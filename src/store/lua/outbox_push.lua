-- Dev outbox: newest first, capped.
-- KEYS[1] outbox
-- ARGV[1] message              sealed
-- ARGV[2] max_len
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
