-- Moves up to `n` queued campaign messages, oldest first, onto the send stream, marked as
-- paced (their token is taken).
-- KEYS[1] campaign             the channel's campaign queue
-- KEYS[2] send_stream
-- ARGV[1] n
-- ARGV[2] minid                the send stream's trim point
-- Returns how many moved.
local due = redis.call('ZPOPMIN', KEYS[1], tonumber(ARGV[1]))
local moved = 0
for i = 1, #due, 2 do
  local member = due[i]
  local sep = string.find(member, '|', 1, true)
  redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*',
    'vid', string.sub(member, 1, sep - 1), 'kind', string.sub(member, sep + 1), 'paced', '1')
  moved = moved + 1
end
return moved
