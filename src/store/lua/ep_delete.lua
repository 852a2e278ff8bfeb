-- KEYS: tenant's endpoints   ARGV: id   Returns 1 when it existed.
return redis.call('HDEL', KEYS[1], ARGV[1])
