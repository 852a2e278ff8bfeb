-- An opt-out the marketer received elsewhere, for a phone number. Every active consent of that number
-- for this tenant (for one purpose, when given) is marked withdrawn, each with its own
-- `consent.withdrawn` event; campaigns may not ask the number again for a while. With no
-- consent here to withdraw, one event names the number, so every partner still hears of it.
-- The number comes sealed (it stays in the stream for the retention); the dispatcher opens it.
-- KEYS[1] consent_index        the number's consents with this tenant
-- KEYS[2] events
-- ARGV[1] tenant
-- ARGV[2] purpose              '' = every purpose
-- ARGV[3] now
-- ARGV[4] minid                the event stream's trim point
-- ARGV[5] source
-- ARGV[6] suppress_until
-- ARGV[7] sealed_phone         named by the event when there is no consent to withdraw
-- Returns the event stream ids, and the verification ids they withdraw ('' for the number).
local ikey = KEYS[1]
local tag = tag_of(ikey)
local ids, vids = {}, {}
local h = redis.call('HGETALL', ikey)
for i = 1, #h, 2 do
  local purpose = string.match(h[i], '^p:(.*)$')
  if purpose and (ARGV[2] == '' or ARGV[2] == purpose) then
    -- Every consent kept for the purpose, older ones included.
    for vid in string.gmatch(h[i + 1], '%S+') do
      local vkey = tag .. ':v:' .. vid
      local v = redis.call('HMGET', vkey, 'st', 'wd', 'cx', 't')
      if v[4] == ARGV[1] and consent_state(v, tonumber(ARGV[3])) == 'active' then
        redis.call('HSET', vkey, 'wd', ARGV[3], 'wsrc', ARGV[5])
        ids[#ids + 1] = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[4], '*',
          'type', 'consent.withdrawn', 'vid', vid, 'tenant', ARGV[1], 'at', ARGV[3], 'src', ARGV[5])
        vids[#vids + 1] = vid
      end
    end
  end
end
if #ids == 0 then
  ids[1] = redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[4], '*',
    'type', 'consent.withdrawn', 'vid', '', 'tenant', ARGV[1], 'at', ARGV[3], 'phone', ARGV[7], 'src', ARGV[5])
  vids[1] = ''
end
suppress(ikey, ARGV[6])
return {ids, vids}
