-- A worker handed a message to its transport.
-- KEYS: verification, deadline buckets
-- ARGV: now, announcement_sha256 (or ''), new_expiry (or '', after quiet hours), id, provider,
--       provider reference, retention_ms, attempt lines...
-- Never recreates a verification that expired meanwhile.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local before = batch_of(KEYS[1])
-- A consent confirmed meanwhile keeps the evidence it was sealed with.
if redis.call('HGET', KEYS[1], 'st') == 'pending' then redis.call('HSETNX', KEYS[1], 'sent', ARGV[1]) end

redis.call('HSET', KEYS[1], 'dlv', 'sent', 'last_sent', ARGV[1], 'prov', ARGV[5])
-- A provider reference that is our own id (CM.com's) is not stored twice: absent means that.
if ARGV[6] == string.sub(ARGV[4], 4) then
  redis.call('HDEL', KEYS[1], 'pref')
else
  redis.call('HSET', KEYS[1], 'pref', ARGV[6])
end
redis.call('HINCRBY', KEYS[1], 'ns', 1)
local pending = redis.call('HGET', KEYS[1], 'st') == 'pending'
if ARGV[2] ~= '' and pending then redis.call('HSET', KEYS[1], 'ann_h', ARGV[2], 'ann_at', ARGV[1]) end
if ARGV[3] ~= '' and pending then
  -- The expiry clock starts when a held message is finally sent.
  redis.call('HSET', KEYS[1], 'exp', ARGV[3])
  deadline(KEYS[2], ARGV[4], ARGV[3])
  keep(KEYS[1], tonumber(ARGV[3]) + tonumber(ARGV[7]))
end
log_attempts(KEYS[1], ARGV, 8)
batch_move(KEYS[1], before)
return 1
