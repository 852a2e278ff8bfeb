-- Records what each item of a batch became: its verification and reference, or why it was
-- refused. One field per item index (`i:<index>`), so a retried batch writes each once.
-- KEYS[1] batch
-- ARGV[1..] item               index and row (JSON), one pair per item
for i = 1, #ARGV, 2 do redis.call('HSET', KEYS[1], 'i:' .. ARGV[i], ARGV[i + 1]) end
return 1
