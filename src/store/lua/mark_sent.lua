-- A worker handed a message to its transport: records it and, in the same step, acknowledges
-- and deletes the send-stream entry (one round trip; the stream shares the record's slot).
-- KEYS[1] verification
-- KEYS[2] deadlines
-- KEYS[3] send_stream
-- ARGV[1] now
-- ARGV[2] announcement_sha256    or ''
-- ARGV[3] new_expiry             or '' (set after quiet hours)
-- ARGV[4] id
-- ARGV[5] provider
-- ARGV[6] reference              the provider's reference for this send
-- ARGV[7] retention_ms
-- ARGV[8] group                  the send stream's consumer group
-- ARGV[9] entry_id               acknowledged and deleted here
-- ARGV[10..] attempt             one compact line per provider attempt, oldest first
-- Never recreates a verification that expired meanwhile. Reads the record once and writes it
-- with one HSET: each extra call costs more than the work it does.
local v = KEYS[1]
redis.call('XACK', KEYS[3], ARGV[8], ARGV[9])
redis.call('XDEL', KEYS[3], ARGV[9])
local h = redis.call('HMGET', v, 'st', 'b', 'dlv', 'sent', 'na', 'ns', 'dr')
if not h[1] then return 0 end
-- A new send, with a reference of its own: its verdict is still to come (`send_failed.lua`).
if h[7] then redis.call('HDEL', v, 'dr') end
local pending = h[1] == 'pending'
local set = {'dlv', 'sent', 'last_sent', ARGV[1], 'prov', ARGV[5], 'ns', tonumber(h[6] or '0') + 1}
local function add(f, val) set[#set + 1] = f; set[#set + 1] = val end
-- A consent confirmed meanwhile keeps the evidence it was sealed with.
if pending and not h[4] then add('sent', ARGV[1]) end
-- A provider reference that is our bare id is not stored twice: absent means that (CM.com's
-- references were, before they named the send).
if ARGV[6] == string.sub(ARGV[4], 4) then
  redis.call('HDEL', v, 'pref')
else
  add('pref', ARGV[6])
end
if ARGV[2] ~= '' and pending then add('ann_h', ARGV[2]); add('ann_at', ARGV[1]) end
attempt_fields(v, ARGV, 10, tonumber(h[5] or '0'), set)
redis.call('HSET', v, unpack(set))
if ARGV[3] ~= '' and pending then
  -- The expiry clock starts when a held message is finally sent.
  redis.call('HSET', v, 'exp', ARGV[3])
  deadline(KEYS[2], ARGV[4], ARGV[3])
  keep(v, tonumber(ARGV[3]) + tonumber(ARGV[7]))
end
-- The batch counts move as `batch_move` would, from what was read above.
if h[2] then batch_shift(v, h[2], batch_state(h[1], h[3]), batch_state(h[1], 'sent')) end
return 1
