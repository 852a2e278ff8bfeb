-- Fixed-window counters for one subject; all KEYS share its hash tag.
-- KEYS: one counter per window
-- ARGV: now, then limit and window_end pairs, one per key
-- Returns {1} when every window has room (all are counted), or {0, retry_after_ms}: the
-- longest wait over every full window, so a client that waits that long gets through.
local now = tonumber(ARGV[1])
local wait = 0
for i = 1, #KEYS do
  local limit, window_end = tonumber(ARGV[i * 2]), tonumber(ARGV[i * 2 + 1])
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used >= limit then wait = math.max(wait, window_end - now) end
end
if wait > 0 then return {0, wait} end
for i = 1, #KEYS do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIREAT', KEYS[i], ARGV[i * 2 + 1])
end
return {1}
