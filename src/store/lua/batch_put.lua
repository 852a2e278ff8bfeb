-- Records a batch: owner and items; the start time only the first time (a retried batch keeps
-- its original). KEYS: batch   ARGV: tenant, items, created_ms, keep_until
redis.call('HSET', KEYS[1], 't', ARGV[1], 'n', ARGV[2])
redis.call('HSETNX', KEYS[1], 'cr', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
