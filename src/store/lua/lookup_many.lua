-- The consent state of many numbers of one partition for one tenant, in one round trip: what a
-- dialer asks for a dialing list.
-- KEYS[1..] consent_index      the numbers' consents with one tenant, all in one partition
-- ARGV[1] purpose              '' = every purpose
-- ARGV[2] caller               '' = every caller
-- ARGV[3] now
-- Returns one list of rows per key, in order (see `consent_rows` in the prelude).
local now = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do out[i] = consent_rows(KEYS[i], ARGV[1], ARGV[2], now) end
return out
