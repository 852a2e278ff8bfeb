-- An opt-out received elsewhere, for a number that may have no verification here.
-- KEYS: events   ARGV: minid, tenant, now, phone, source
return redis.call('XADD', KEYS[1], 'MINID', '~', ARGV[1], '*',
  'type', 'consent.withdrawn', 'vid', '', 'tenant', ARGV[2], 'at', ARGV[3], 'phone', ARGV[4], 'src', ARGV[5])
