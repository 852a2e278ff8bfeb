-- A campaign message on a paced channel leaves the send stream for its channel's campaign
-- queue, where it waits (first in, first out) for a token of the provider account.
-- KEYS: send stream, campaign queue   ARGV: group, entry_id, member ("<id>|<kind>"), now
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', ARGV[4], ARGV[3])
return 1
