-- Records provider attempts or a delivery report, and the delivery state they lead to.
-- `failed` fails a pending verification and emits `verification.failed`, once.
-- A report counts only for the message it is about (same provider, and the same reference
-- where the provider gives one), and `delivered` is never downgraded.
-- KEYS: verification, events
-- ARGV: id, now, minid, keep_until, state, report_provider ('' = not a report), report_ref, attempt lines...
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
log_attempts(KEYS[1], ARGV, 8)
if ARGV[6] ~= '' then
  local h = redis.call('HMGET', KEYS[1], 'prov', 'pref', 'dlv')
  if h[1] ~= ARGV[6] then return 2 end
  if ARGV[7] ~= '' and (h[2] or string.sub(ARGV[1], 4)) ~= ARGV[7] then return 2 end
  if h[3] == 'delivered' then return 2 end
end
if ARGV[5] == 'failed' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
  -- The delivery state first: with a retention of zero, the record ends inside `finish`.
  redis.call('HSET', KEYS[1], 'dlv', ARGV[5], 'dlv_at', ARGV[2])
  finish(KEYS[1], KEYS[2], ARGV[3], ARGV[1], 'failed', 'verification.failed', tonumber(ARGV[2]), ARGV[4])
  return 1
end
local before = batch_of(KEYS[1])
redis.call('HSET', KEYS[1], 'dlv', ARGV[5], 'dlv_at', ARGV[2])
batch_move(KEYS[1], before)
return 1
