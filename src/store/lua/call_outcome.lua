-- The marketer reports the announced verification call.
-- KEYS[1] verification
-- KEYS[2] events                 the partition's event stream
-- KEYS[3] deadlines              the partition's deadline buckets
-- KEYS[4] send_stream            where a rescheduled call's new announcement is queued
-- KEYS[5] retention_reminders
-- ARGV[1] id
-- ARGV[2] tenant                 another tenant's id reads as missing
-- ARGV[3] outcome                'confirmed', 'declined', 'unreachable' or 'failed'
-- ARGV[4] now
-- ARGV[5] minid                  the streams' trim point
-- ARGV[6] keep_default
-- ARGV[7] keep_confirmed
-- ARGV[8] expected_window_start  the window the marketer saw: another one means it moved
-- ARGV[9] max_reschedules
-- ARGV[10] called_at
-- ARGV[11] agent_id
-- ARGV[12] rec_uri
-- ARGV[13] rec_sha
-- ARGV[14] rec_dur
-- ARGV[15] retain_until
-- ARGV[16] remind_at
-- ARGV[17] new_start             a rescheduled call's window ('' = none given)
-- ARGV[18] new_end
-- ARGV[19] new_exp
-- ARGV[20] suppress_until
-- Returns {'missing'}, {'final', status}, {'moved'} (the window changed meanwhile), {'needs_window'},
-- or the new status: {'confirmed'}, {'declined'}, {'failed'}, {'rescheduled'}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 't', 'st', 'cw_s', 'resch')
if not h[1] or h[1] ~= ARGV[2] then return {'missing'} end
if h[2] ~= 'pending' then return {'final', h[2]} end
if h[3] ~= ARGV[8] then return {'moved'} end
local now = tonumber(ARGV[4])
local resch = tonumber(h[4] or '0')
if ARGV[3] == 'unreachable' and resch < tonumber(ARGV[9]) and ARGV[17] == '' then return {'needs_window'} end
redis.call('HSET', v, 'called', ARGV[10], 'agent', ARGV[11], 'src', 'call')
if ARGV[3] == 'confirmed' then
  redis.call('HSET', v, 'rec_sha', ARGV[13], 'rec_dur', ARGV[14], 'ret_until', ARGV[15])
  put(v, 'rec_uri', ARGV[12], ARGV[7])
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'confirmed', 'consent.confirmed', now, ARGV[7], tonumber(ARGV[6]) - now)
  redis.call('ZADD', KEYS[5], ARGV[16], ARGV[1])
  return {'confirmed'}
elseif ARGV[3] == 'declined' then
  local p = redis.call('HMGET', v, 't', 'ps')
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'declined', 'consent.declined', now, ARGV[6])
  if p[2] then suppress(consent_index(v, p[1], p[2]), ARGV[20]) end
  return {'declined'}
end
if resch >= tonumber(ARGV[9]) then
  finish(v, KEYS[2], ARGV[5], ARGV[1], 'failed', 'verification.failed', now, ARGV[6])
  return {'failed'}
end
redis.call('HSET', v, 'cw_s', ARGV[17], 'cw_e', ARGV[18], 'exp', ARGV[19], 'resch', resch + 1)
-- The next call needs a new announcement first.
redis.call('HDEL', v, 'ann_h', 'ann_at')
deadline(KEYS[3], ARGV[1], ARGV[19])
keep(v, tonumber(ARGV[19]) + (tonumber(ARGV[6]) - now))
redis.call('XADD', KEYS[4], 'MINID', '~', ARGV[5], '*', 'vid', ARGV[1], 'kind', 'reschedule')
return {'rescheduled'}
