-- Fixed-window counters for one subject; all KEYS share its hash tag.
-- KEYS[1..] counter             one per window
-- ARGV[1] now
-- ARGV[2..] window             limit and window_end, one pair per counter
-- Returns {1} when every window has room (all are counted), or {0, retry_after_ms}: the
-- longest wait over every full window, so a client that waits that long gets through.
local wait = take_windows(1, 2, tonumber(ARGV[1]))
if wait > 0 then return {0, wait} end
return {1}
