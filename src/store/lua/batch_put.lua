-- Records a batch: owner, items, accepted; the start time only the first time (a retried
-- batch keeps its original). KEYS: batch   ARGV: tenant, items, accepted, created_ms, keep_until
redis.call('HSET', KEYS[1], 't', ARGV[1], 'n', ARGV[2], 'ok', ARGV[3])
redis.call('HSETNX', KEYS[1], 'cr', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return 1
