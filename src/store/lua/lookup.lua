-- The consent state of one number for one tenant, read in one round trip.
-- KEYS[1] consent_index        the number's consents with one tenant
-- ARGV[1] purpose              '' = every purpose
-- ARGV[2] caller               '' = every caller
-- ARGV[3] now
-- Returns one row per purpose and caller, for its newest consent still kept: purpose, caller,
-- id, state ('active', 'withdrawn' or 'expired'), method, channel, confirmed (ms), withdrawn
-- (ms or ''), expires (ms or ''), seed, receipt id ('' until signed), opt-out token hash.
-- A record past its retention is gone, and skipped.
local tag = tag_of(KEYS[1])
local now = tonumber(ARGV[3])
local out = {}
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  local purpose = string.match(h[i], '^p:(.*)$')
  if purpose and (ARGV[1] == '' or ARGV[1] == purpose) then
    local ids = {}
    for v in string.gmatch(h[i + 1], '%S+') do ids[#ids + 1] = v end
    local seen = {}
    for j = #ids, 1, -1 do
      local vkey = tag .. ':v:' .. ids[j]
      local v = redis.call('HMGET', vkey, 'st', 'wd', 'cx', 'm', 'ch', 'done', 'seed', 'rid', 'otk')
      local state = consent_state(v, now)
      local caller = state and (caller_of(vkey) or '')
      if state and not seen[caller] and (ARGV[2] == '' or ARGV[2] == caller) then
        seen[caller] = true
        out[#out + 1] = {purpose, caller, ids[j], state, v[4], v[5], v[6] or '', v[2] or '', v[3] or '',
          v[7] or '', v[8] or '', v[9] or ''}
      end
    end
  end
end
return out
