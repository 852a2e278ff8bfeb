-- A code that opens a person's own consents page for one number (or e-mail address) with one tenant: the challenge
-- the page posts the typed code to. When the tenant holds nothing for the number, the
-- challenge is made all the same, with no code that opens it: the page behaves alike either way.
-- KEYS[1] challenge            the challenge, in the number's (or address's) partition
-- ARGV[1] tenant
-- ARGV[2] pseudonym
-- ARGV[3] code_mac             '' when no code may open it
-- ARGV[4] sealed_address       the number or e-mail address the code went to
-- ARGV[5] attempts             how many codes may be tried
-- ARGV[6] ttl_ms
-- ARGV[7] kind                 'phone' or 'email': what the pseudonym and address are of
-- Returns {'created'}.
redis.call('HSET', KEYS[1], 'tenant', ARGV[1], 'ps', ARGV[2], 'mac', ARGV[3], 'addr', ARGV[4], 'left', ARGV[5],
  'kind', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {'created'}
