-- KEYS[1] endpoints            the tenant's endpoints
-- ARGV[1] id
-- Returns 1 when it existed.
return redis.call('HDEL', KEYS[1], ARGV[1])
