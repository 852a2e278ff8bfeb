-- The consent state of one number for one tenant, read in one round trip.
-- KEYS: the number's consent index   ARGV: purpose ('' = every purpose)
-- Returns one row per consent: purpose, id, status, method, channel, confirmed (ms),
-- withdrawn (ms or ''), seed, receipt id ('' until signed), opt-out token hash. A record past its retention is
-- simply gone, and skipped.
local tag = tag_of(KEYS[1])
local out = {}
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  if h[i] ~= '!' and (ARGV[1] == '' or ARGV[1] == h[i]) then
    local v = redis.call('HMGET', tag .. ':v:' .. h[i + 1], 'st', 'm', 'ch', 'done', 'wd', 'seed', 'rid', 'otk')
    if v[1] then
      out[#out + 1] = {h[i], h[i + 1], v[1], v[2], v[3], v[4] or '', v[5] or '', v[6] or '', v[7] or '', v[8] or ''}
    end
  end
end
return out
