-- Records provider attempts or a delivery report, and the delivery state they lead to.
-- `failed` fails a pending verification and emits `verification.failed`, once.
-- A report (`delivered` or `failed`) is recorded only when it settles the message last sent:
-- the same provider, the same reference (one per send: Twilio's MessageSid, WhatsApp's message
-- id, CM.com's reference with the send's number), and no verdict on that send yet (`dr`, which
-- the next send clears). A report about an earlier send, a second verdict (failed after
-- delivered, or the reverse), a duplicate or a replay changes nothing, not even the attempt log.
-- A report naming the send after the last one recorded (CM.com's reference names it) arrived
-- before the worker recorded that send: it is refused for now (3), and the provider retries.
-- KEYS[1] verification
-- KEYS[2] events
-- ARGV[1] id
-- ARGV[2] now
-- ARGV[3] minid                  the event stream's trim point
-- ARGV[4] keep_until
-- ARGV[5] state                  the delivery state: 'failed', 'retrying' or 'delivered'
-- ARGV[6] report_provider        '' = not a report
-- ARGV[7] report_ref
-- ARGV[8] report_send            the send the report names ('' = not known)
-- ARGV[9..] attempt              one compact line per provider attempt, oldest first
-- Returns 1 when recorded, 2 for a report that changed nothing, 3 for a report too early to
-- record, 0 when the record is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local settled = {}
if ARGV[6] ~= '' then
  if (ARGV[5] ~= 'delivered' and ARGV[5] ~= 'failed') or ARGV[7] == '' then return 2 end
  local h = redis.call('HMGET', KEYS[1], 'prov', 'pref', 'dr', 'dlv', 'ns')
  if ARGV[8] ~= '' and tonumber(ARGV[8]) == tonumber(h[5] or '0') + 1 then return 3 end
  if h[1] ~= ARGV[6] then return 2 end
  -- No `pref` after a send: the provider took our bare id (CM.com, before per-send references).
  if (h[2] or string.sub(ARGV[1], 4)) ~= ARGV[7] then return 2 end
  -- `delivered` without `dr`: settled before `dr` was kept.
  if h[3] or h[4] == 'delivered' then return 2 end
  settled = {'dr', 1}
end
log_attempts(KEYS[1], ARGV, 9)
if ARGV[5] == 'failed' and redis.call('HGET', KEYS[1], 'st') == 'pending' then
  -- The delivery state first: with a retention of zero, the record ends inside `finish`.
  redis.call('HSET', KEYS[1], 'dlv', ARGV[5], 'dlv_at', ARGV[2], unpack(settled))
  finish(KEYS[1], KEYS[2], ARGV[3], ARGV[1], 'failed', 'verification.failed', tonumber(ARGV[2]), ARGV[4])
  return 1
end
local before = batch_of(KEYS[1])
redis.call('HSET', KEYS[1], 'dlv', ARGV[5], 'dlv_at', ARGV[2], unpack(settled))
batch_move(KEYS[1], before)
return 1
