-- Idempotency-Key, step 1: claim the key, or return what it already holds.
-- KEYS: record   ARGV: request_hash, lock_ms
-- Returns {'new'}, {'running'}, {'mismatch'} or {'done', status, body}.
local h = redis.call('HMGET', KEYS[1], 'req', 'st', 'body')
if not h[1] then
  redis.call('HSET', KEYS[1], 'req', ARGV[1], 'st', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'new'}
end
if h[1] ~= ARGV[1] then return {'mismatch'} end
if h[2] == 'running' then return {'running'} end
return {'done', h[2], h[3] or ''}
