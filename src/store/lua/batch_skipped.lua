-- Records the items of a batch that started nothing because they need no asking: a number
-- that already consented ('already-consented'), or one already in the batch
-- ('duplicate-in-batch'). One field per item index, so a retried batch counts each once.
-- KEYS[1] batch
-- ARGV[1..] item               index and kind, one pair per item
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], 'r:' .. ARGV[i], ARGV[i + 1]) end
return 1
