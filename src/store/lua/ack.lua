-- A worker finished a stream entry: acknowledge and delete it.
-- KEYS[1] stream
-- ARGV[1] group
-- ARGV[2] entry_id
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return redis.call('XDEL', KEYS[1], ARGV[2])
