-- Quiet hours: park a marketer message until the tenant's send window opens.
-- The verification cannot expire while it waits: its deadline moves past the release.
-- KEYS[1] send_stream
-- KEYS[2] held                   the partition's held set
-- KEYS[3] verification
-- KEYS[4] deadlines
-- ARGV[1] group                  the send stream's consumer group
-- ARGV[2] entry_id               the send-stream entry, acknowledged and deleted here
-- ARGV[3] member                 `<id>|<kind>` in the held set
-- ARGV[4] release_at
-- ARGV[5] id
-- ARGV[6] new_expiry             or '' to keep it
-- ARGV[7] retention_ms
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
if redis.call('HGET', KEYS[3], 'st') == 'pending' then
  local before = batch_of(KEYS[3])
  redis.call('HSET', KEYS[3], 'dlv', 'held')
  if ARGV[6] ~= '' then
    redis.call('HSET', KEYS[3], 'exp', ARGV[6])
    deadline(KEYS[4], ARGV[5], ARGV[6])
    keep(KEYS[3], tonumber(ARGV[6]) + tonumber(ARGV[7]))
  end
  batch_move(KEYS[3], before)
end
return 1
