-- The consent state of one number for one tenant, read in one round trip.
-- KEYS[1] consent_index        the number's consents with one tenant
-- ARGV[1] purpose              '' = every purpose
-- ARGV[2] caller               '' = every caller
-- ARGV[3] now
-- Returns one row per purpose and caller (see `consent_rows` in the prelude).
return consent_rows(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
