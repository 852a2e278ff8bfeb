-- Ends a consents-page session: the person signed out.
-- KEYS[1] session
-- Returns 1 when there was a session, 0 when not.
return redis.call('DEL', KEYS[1])
