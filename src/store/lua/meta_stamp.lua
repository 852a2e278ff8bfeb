-- The store's meta record: write a field on first start, or return what an earlier start wrote.
-- KEYS[1] meta
-- ARGV[1] field
-- ARGV[2] value
-- Returns {'new'} or {'kept', stored value}.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then return {'new'} end
return {'kept', redis.call('HGET', KEYS[1], ARGV[1])}
