-- A campaign message on a paced channel leaves the send stream for its channel's campaign
-- queue, where it waits (first in, first out) for a token of the provider account. Its
-- verification cannot expire while it waits: the deadline moves out, and the expiry clock
-- starts when the message is sent.
-- KEYS[1] send_stream
-- KEYS[2] campaign             the channel's campaign queue
-- KEYS[3] verification
-- KEYS[4] deadlines
-- ARGV[1] group                the send stream's consumer group
-- ARGV[2] entry_id             acknowledged and deleted here
-- ARGV[3] member               `<id>|<kind>`
-- ARGV[4] now
-- ARGV[5] new_expiry           or ''
-- ARGV[6] id
-- ARGV[7] retention_ms
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[3])
if ARGV[5] ~= '' and redis.call('HGET', KEYS[3], 'st') == 'pending' then
  redis.call('HSET', KEYS[3], 'exp', ARGV[5])
  deadline(KEYS[4], ARGV[6], ARGV[5])
  keep(KEYS[3], tonumber(ARGV[5]) + tonumber(ARGV[7]))
end
return 1
