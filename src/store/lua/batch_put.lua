-- Records a batch: owner and items; the start time only the first time (a retried batch keeps
-- its original).
-- KEYS[1] batch
-- ARGV[1] tenant
-- ARGV[2] items
-- ARGV[3] created_ms
-- ARGV[4] keep_until
redis.call('HSET', KEYS[1], 't', ARGV[1], 'n', ARGV[2])
redis.call('HSETNX', KEYS[1], 'cr', ARGV[3])
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return 1
