-- Idempotency-Key, step 2: keep the answer for replays (or release the key after a 5xx).
-- KEYS[1] record               the Idempotency-Key's record
-- ARGV[1] request_hash
-- ARGV[2] status               '' releases the key (the request failed and may be retried)
-- ARGV[3] body                 the answer, sealed
-- ARGV[4] keep_ms
if redis.call('HGET', KEYS[1], 'req') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'st', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
