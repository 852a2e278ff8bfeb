-- The consent state of one number for one tenant, read in one round trip.
-- KEYS: the number's consent index   ARGV: purpose ('' = every purpose)
-- Returns one row per purpose, for its newest consent still kept: purpose, id, status, method,
-- channel, confirmed (ms), withdrawn (ms or ''), seed, receipt id ('' until signed), opt-out
-- token hash. A record past its retention is simply gone, and skipped.
local tag = tag_of(KEYS[1])
local out = {}
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  local purpose = string.match(h[i], '^p:(.*)$')
  if purpose and (ARGV[1] == '' or ARGV[1] == purpose) then
    local ids = {}
    for v in string.gmatch(h[i + 1], '%S+') do ids[#ids + 1] = v end
    for j = #ids, 1, -1 do
      local v = redis.call('HMGET', tag .. ':v:' .. ids[j], 'st', 'm', 'ch', 'done', 'wd', 'seed', 'rid', 'otk')
      if v[1] then
        out[#out + 1] = {purpose, ids[j], v[1], v[2], v[3], v[4] or '', v[5] or '', v[6] or '', v[7] or '', v[8] or ''}
        break
      end
    end
  end
end
return out
