-- Idempotency-Key, step 1: claim the key, or return what it already holds.
-- KEYS[1] record               the Idempotency-Key's record
-- ARGV[1] request_hash         method, path and body: another request under the key mismatches
-- ARGV[2] lock_ms              how long a running request holds the key
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
