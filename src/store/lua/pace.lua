-- The token bucket of one provider account, shared by every worker on this Redis.
-- Holds `burst` tokens at most and refills `rate` per second, by Redis's own clock.
-- KEYS[1] bucket               the provider account's token bucket
-- ARGV[1] rate                 tokens per second
-- ARGV[2] burst                tokens at most
-- ARGV[3] want
-- ARGV[4] mode                 'take', 'debt' or 'give':
-- mode 'take': grant up to `want` whole tokens now (campaign messages);
--      'debt': take `want` tokens even below zero, down to -burst (a person waiting on a form
--              never waits; campaigns get less afterwards);
--      'give': return `want` unused tokens.
-- Returns {granted, ms until the next whole token}.
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'tok', 'ts')
local tok = tonumber(h[1] or burst)
local ts = tonumber(h[2] or now)
tok = math.min(burst, tok + math.max(0, now - ts) * rate / 1000)
local granted = 0
if ARGV[4] == 'take' then
  granted = math.max(0, math.min(want, math.floor(tok)))
  tok = tok - granted
elseif ARGV[4] == 'debt' then
  granted = want
  tok = math.max(-burst, tok - want)
else
  tok = math.min(burst, tok + want)
end
redis.call('HSET', KEYS[1], 'tok', tostring(tok), 'ts', now)
redis.call('PEXPIRE', KEYS[1], 3600000)
local wait = 0
if tok < 1 then wait = math.ceil((1 - tok) * 1000 / rate) end
return {granted, wait}
