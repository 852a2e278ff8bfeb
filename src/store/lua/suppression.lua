-- The person's own "don't ask me again", or its undoing: marketer-initiated starts keep away
-- from the number until `suppress_until`; 0 lifts the suppression, whatever set it.
-- KEYS[1] consent_index        the number's consents with this tenant
-- ARGV[1] suppress_until       ms; 0 lifts it
-- Returns {'ok'}.
if tonumber(ARGV[1]) > 0 then
  suppress(KEYS[1], ARGV[1])
else
  redis.call('HDEL', KEYS[1], '!')
end
return {'ok'}
