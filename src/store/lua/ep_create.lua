-- KEYS[1] endpoints            the tenant's endpoints
-- ARGV[1] id
-- ARGV[2] json
-- ARGV[3] max_endpoints
-- Returns 'ok' or 'full'.
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
