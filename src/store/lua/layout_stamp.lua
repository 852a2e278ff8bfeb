-- The store's layout stamp: compare it with this binary's layout and, once the start is sure to
-- go ahead, stamp an empty store or note which release last started on it. An unstamped store
-- is looked at first (does the prefix hold any data?): only one that holds none is empty.
-- KEYS[1] meta
-- ARGV[1] layout      this binary's layout version
-- ARGV[2] version     this binary's release
-- ARGV[3] holds_data  '1' the prefix holds data, '0' none, '?' not looked yet
-- ARGV[4] now         ms
-- ARGV[5] write       '1' stamp or note the release; '0' compare only
-- Returns {'same', release that started before} | {'empty'} | {'stamped'} | {'look'}
--   | {'unstamped'} | {'other', stored layout, release that wrote it}
local layout = redis.call('HGET', KEYS[1], 'layout')
if not layout then
  if ARGV[3] == '?' then return {'look'} end
  if ARGV[3] == '1' then return {'unstamped'} end
  if ARGV[5] ~= '1' then return {'empty'} end
  redis.call('HSET', KEYS[1], 'layout', ARGV[1], 'written_by', ARGV[2], 'stamped_at', ARGV[4])
  return {'stamped'}
end
local written_by = redis.call('HGET', KEYS[1], 'written_by') or ''
if layout ~= ARGV[1] then return {'other', layout, written_by} end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'written_by', ARGV[2]) end
return {'same', written_by}
