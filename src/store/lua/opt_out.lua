-- "Not me" or a withdrawal, from the opt-out link in a message (page or RFC 8058 one-click) or
-- from the receipt page with the person's own token. What the page promises is what happens:
-- a pending verification is declined, and every active consent of the number with this tenant
-- for the verification's purpose (scope 'purpose') or for every purpose (scope 'all') is
-- withdrawn, each with its own `consent.withdrawn`, whichever of them the link came from.
-- KEYS[1] verification
-- KEYS[2] events                the partition's event stream
-- ARGV[1] id
-- ARGV[2] token_hash            the opt-out token's hash, compared in constant time
-- ARGV[3] now
-- ARGV[4] minid                 the event stream's trim point
-- ARGV[5] keep_until_declined
-- ARGV[6] client_ip
-- ARGV[7] user_agent
-- ARGV[8] suppress_until        campaigns keep away from the number until then
-- ARGV[9] scope                 'purpose' or 'all'
-- Returns {'declined', n}, {'withdrawn', n} (n consents withdrawn), {'already', 0} when nothing
-- was left to stop, or {'invalid', 0}.
local v = KEYS[1]
local h = redis.call('HMGET', v, 'st', 'otk', 'wd', 't', 'ps')
if not h[1] or not ct_eq(h[2], ARGV[2]) then return {'invalid', 0} end
local now = tonumber(ARGV[3])
local outcome = 'already'
if h[1] == 'pending' then
  redis.call('HSET', v, 'src', 'optout', 'cip', ARGV[6])
  put(v, 'cua', ARGV[7], ARGV[5])
  finish(v, KEYS[2], ARGV[4], ARGV[1], 'declined', 'consent.declined', now, ARGV[5])
  outcome = 'declined'
end
local n = 0
local function withdraw(vkey, vid)
  redis.call('HSET', vkey, 'wd', now, 'wsrc', 'link', 'wip', ARGV[6])
  emit(KEYS[2], ARGV[4], 'consent.withdrawn', vid, h[4], now)
  n = n + 1
end
if h[5] then
  local ikey = consent_index(v, h[4], h[5])
  local purpose = ARGV[9] ~= 'all' and get(v, 'pid') or nil
  local tag = tag_of(v)
  local idx = redis.call('HGETALL', ikey)
  for i = 1, #idx, 2 do
    local p = string.match(idx[i], '^p:(.*)$')
    if p and (not purpose or p == purpose) then
      for vid in string.gmatch(idx[i + 1], '%S+') do
        local vkey = tag .. ':v:' .. vid
        local c = redis.call('HMGET', vkey, 'st', 'wd', 'cx', 't')
        if c[4] == h[4] and consent_state(c, now) == 'active' then withdraw(vkey, vid) end
      end
    end
  end
  suppress(ikey, ARGV[8])
elseif consent_state({h[1], h[3], redis.call('HGET', v, 'cx')}, now) == 'active' then
  -- A record without a pseudonym has no index to search: it withdraws itself.
  withdraw(v, ARGV[1])
end
if outcome == 'already' and n > 0 then outcome = 'withdrawn' end
return {outcome, n}
