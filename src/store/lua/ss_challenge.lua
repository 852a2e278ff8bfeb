-- A code that opens a person's own consents page for one number with one tenant: the challenge
-- the page posts the typed code to. When the tenant holds nothing for the number, the
-- challenge is made all the same, with no code that opens it: the page behaves alike either way.
-- KEYS[1] challenge            the challenge, in the number's partition
-- ARGV[1] tenant
-- ARGV[2] pseudonym
-- ARGV[3] code_mac             '' when no code may open it
-- ARGV[4] sealed_phone
-- ARGV[5] attempts             how many codes may be tried
-- ARGV[6] ttl_ms
-- Returns {'created'}.
redis.call('HSET', KEYS[1], 'tenant', ARGV[1], 'ps', ARGV[2], 'mac', ARGV[3], 'phone', ARGV[4], 'left', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'created'}
