-- Moves retries whose time has come back onto the deliver stream.
-- KEYS: retry set, deliver stream   ARGV: now, limit, minid
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(due) do
  local sep = string.find(member, '|', 1, true)
  redis.call('ZREM', KEYS[1], member)
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*',
    'eid', string.sub(member, 1, sep - 1), 'ep', string.sub(member, sep + 1))
end
return #due
