-- Moves delayed work whose time has come onto its stream: webhook retries (fields eid, ep)
-- or messages held for quiet hours (fields vid, kind). Members are "<a>|<b>".
-- KEYS: delayed set, stream   ARGV: now, limit, minid, field_a, field_b
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  redis.call('ZREM', KEYS[1], member)
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*',
    ARGV[4], string.sub(member, 1, sep - 1), ARGV[5], string.sub(member, sep + 1))
end
return #due
