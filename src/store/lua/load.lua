-- Reads a verification with its spilled values in place, and its number's suppression
-- (`!sup`, from the consent index in the same slot): one round trip.
-- KEYS[1] verification
-- Returns field/value pairs, empty when it does not exist.
local h = redis.call('HGETALL', KEYS[1])
local tag = tag_of(KEYS[1])
local tenant, pseudonym
for i = 1, #h, 2 do
  local f = h[i]
  if string.byte(f, #f) == 64 then
    h[i] = string.sub(f, 1, #f - 1)
    h[i + 1] = redis.call('GET', tag .. ':b:' .. h[i + 1]) or ''
  elseif f == 't' then
    tenant = h[i + 1]
  elseif f == 'ps' then
    pseudonym = h[i + 1]
  end
end
if tenant and pseudonym then
  local sup = redis.call('HGET', consent_index(KEYS[1], tenant, pseudonym), '!')
  if sup then
    h[#h + 1] = '!sup'
    h[#h + 1] = sup
  end
end
return h
