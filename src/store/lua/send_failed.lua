-- Sending failed for good (a permanent provider verdict, or a delivery report saying so):
-- the verification fails and `verification.failed` goes out, once.
-- KEYS: verification, events, expiry deadlines, send attempts
-- ARGV: id, now, minid, keep_until, delivery_state, attempt JSON...
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'dlv', ARGV[5], 'dlv_at', ARGV[2])
for i = 6, #ARGV do redis.call('RPUSH', KEYS[4], ARGV[i]) end
redis.call('LTRIM', KEYS[4], -50, -1)
redis.call('PEXPIRE', KEYS[4], math.max(redis.call('PTTL', KEYS[1]), 1000))
if ARGV[5] == 'failed' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
  finish(KEYS[1], KEYS[2], KEYS[3], ARGV[3], ARGV[1], 'failed', 'verification.failed', tonumber(ARGV[2]), ARGV[4])
end
return 1
