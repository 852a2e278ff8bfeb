-- Records one delivery attempt and decides what follows, then acknowledges the entry.
-- KEYS[1] deliver_stream
-- KEYS[2] message
-- KEYS[3] attempts             the message's attempt log
-- KEYS[4] retries              the partition's retry set
-- KEYS[5] dead_letters
-- ARGV[1] group                the deliver stream's consumer group
-- ARGV[2] entry_id             acknowledged and deleted here
-- ARGV[3] event_id
-- ARGV[4] endpoint_id
-- ARGV[5] outcome
-- ARGV[6] attempt_json         the attempt, for the log (not for 'deferred')
-- ARGV[7] due_ms               when a retry or a deferred delivery comes due
-- ARGV[8] now
-- ARGV[9] keep_until
-- ARGV[10] dead_min            dead letters older than this are trimmed
-- outcome: 'delivered', 'retrying', 'dead', or 'deferred' (endpoint busy: no attempt counted).
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
local member = ARGV[3] .. '|' .. ARGV[4]
if ARGV[5] == 'deferred' then
  redis.call('ZADD', KEYS[4], ARGV[7], member)
  return 1
end
redis.call('HINCRBY', KEYS[2], 'n:' .. ARGV[4], 1)
redis.call('HSET', KEYS[2], 's:' .. ARGV[4], ARGV[5])
redis.call('LPUSH', KEYS[3], ARGV[6])
redis.call('LTRIM', KEYS[3], 0, 99)
redis.call('PEXPIREAT', KEYS[3], ARGV[9])
if ARGV[5] == 'retrying' then
  redis.call('ZADD', KEYS[4], ARGV[7], member)
elseif ARGV[5] == 'dead' then
  redis.call('ZADD', KEYS[5], ARGV[8], member)
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[10])
end
return 1
