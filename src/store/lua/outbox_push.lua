-- Dev outbox: newest first, capped.   KEYS: outbox   ARGV: message_json, max_len
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return 1
