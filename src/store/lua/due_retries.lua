-- Moves delayed work whose time has come onto its stream: webhook retries (fields eid, ep)
-- or messages held for quiet hours (fields vid, kind). Members are "<a>|<b>".
-- KEYS[1] delayed   the partition's retry or held set
-- KEYS[2] stream    the stream the work goes back to
-- ARGV[1] now
-- ARGV[2] limit     at most this many members
-- ARGV[3] minid     the stream's trim point
-- ARGV[4] field_a   the stream field for a member's first part
-- ARGV[5] field_b   the stream field for its second part
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  redis.call('ZREM', KEYS[1], member)
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*',
    ARGV[4], string.sub(member, 1, sep - 1), ARGV[5], string.sub(member, sep + 1))
end
return #due
