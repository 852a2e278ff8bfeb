-- Idempotency-Key, step 2: keep the answer for replays (or release the key after a 5xx).
-- KEYS: record   ARGV: request_hash, status ('' to release), body, keep_ms
if redis.call('HGET', KEYS[1], 'req') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'st', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
