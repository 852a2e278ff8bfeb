-- Compare-and-set of one endpoint, so concurrent rotations and disables never clobber.
-- KEYS[1] endpoints            the tenant's endpoints
-- ARGV[1] id
-- ARGV[2] expected_json        what the caller read: anything else now means a concurrent change
-- ARGV[3] new_json
-- Returns 'ok', 'gone' or 'conflict'.
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 'gone' end
if cur ~= ARGV[2] then return 'conflict' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 'ok'
