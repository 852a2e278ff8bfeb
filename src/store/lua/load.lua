-- Reads a verification with its spilled values in place: one round trip.
-- KEYS: verification. Returns field/value pairs, empty when it does not exist.
local h = redis.call('HGETALL', KEYS[1])
local tag = tag_of(KEYS[1])
for i = 1, #h, 2 do
  local f = h[i]
  if string.byte(f, #f) == 64 then
    h[i] = string.sub(f, 1, #f - 1)
    h[i + 1] = redis.call('GET', tag .. ':b:' .. h[i + 1]) or ''
  end
end
return h
