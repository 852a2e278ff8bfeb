-- Shared by every state-changing script. Each script touches keys of one hash slot only:
-- keys it builds itself (blobs, batch counts, the consent index) share the hash tag of a key
-- it was given, so they live in the same slot.

-- Constant-time equality of two secrets' digests (a code's MAC, a token's hash). It compares
-- their SHA-1 digests: hashing takes the same time for any input of a given length, and how
-- alike two digests are says nothing about the inputs. (A byte-by-byte loop in Lua took ~10 µs
-- for a 43-character MAC, most of a check's time in Redis; this takes ~1 µs.)
local function ct_eq(a, b)
  if type(a) ~= 'string' or type(b) ~= 'string' or #a ~= #b then return false end
  return redis.sha1hex(a) == redis.sha1hex(b)
end

-- '{ov:p3}' of '{ov:p3}:v:vf_...'.
local function tag_of(key) return string.match(key, '^{[^}]*}') end

-- A value over 64 bytes (Redis's default hash-max-listpack-value) would turn the whole hash
-- into a hashtable, about four times the memory. Such values go to a content-addressed blob
-- in the same slot, shared by every record with the same text (a campaign's consent text, a
-- common user agent), and kept as long as the longest-lived record that refers to it.
-- The hash then holds `<field>@` = the blob's SHA-1.
local function blob_at(vkey, ref, value, keep)
  local bkey = tag_of(vkey) .. ':b:' .. ref
  if not redis.call('SET', bkey, value, 'NX', 'PXAT', keep) then
    redis.call('PEXPIREAT', bkey, keep, 'GT')
  end
end

-- Stores `value` as its blob and returns the reference (see `blob_at`).
local function blob(vkey, value, keep)
  local ref = redis.sha1hex(value)
  blob_at(vkey, ref, value, keep)
  return ref
end

local function put(vkey, field, value, keep)
  if #value <= 64 then
    redis.call('HSET', vkey, field, value)
    redis.call('HDEL', vkey, field .. '@')
    return
  end
  redis.call('HSET', vkey, field .. '@', blob(vkey, value, keep))
  redis.call('HDEL', vkey, field)
end

-- A field's value, read back from its blob when it was spilled.
local function get(vkey, field)
  local v = redis.call('HGET', vkey, field)
  if v then return v end
  local ref = redis.call('HGET', vkey, field .. '@')
  if not ref then return nil end
  return redis.call('GET', tag_of(vkey) .. ':b:' .. ref)
end

-- Keeps a record until `at` (ms), and every blob it refers to at least as long.
local function keep(vkey, at, exact)
  at = tonumber(at)
  if exact or redis.call('PEXPIRETIME', vkey) < at then redis.call('PEXPIREAT', vkey, at) end
  local tag = tag_of(vkey)
  local h = redis.call('HGETALL', vkey)
  for i = 1, #h, 2 do
    local f = h[i]
    if string.byte(f, #f) == 64 then redis.call('PEXPIREAT', tag .. ':b:' .. h[i + 1], at, 'GT') end
  end
end

-- Provider attempts and delivery reports (compact lines, ARGV from `from` on) are kept as
-- fields a1, a2, ... of the hash itself: a list key of its own would cost more than the
-- record. The log only grows, up to 20 lines; a line past that is dropped, never an older one.
-- It is evidence of what was sent: the first lines, the sends a consent rests on, must not be
-- pushed out by later ones (once, replays of a provider report did exactly that). Each send
-- adds its attempts and at most one report (`send_failed.lua`), so 20 is only reached by a
-- long run of failing attempts or many resends. Appends the new lines, numbered after `n`, to
-- `set` (field/value pairs for the caller's one HSET) and returns the new count.
local function attempt_fields(vkey, argv, from, n, set)
  local exp
  local before = n
  for i = from, #argv do
    if n >= 20 then break end
    n = n + 1
    if #argv[i] <= 64 then
      set[#set + 1] = 'a' .. n
      set[#set + 1] = argv[i]
    else
      exp = exp or redis.call('PEXPIRETIME', vkey)
      set[#set + 1] = 'a' .. n .. '@'
      set[#set + 1] = blob(vkey, argv[i], exp)
    end
  end
  if n > before then
    set[#set + 1] = 'na'
    set[#set + 1] = n
  end
  return n
end

local function log_attempts(vkey, argv, from)
  if from > #argv then return end
  local set = {}
  attempt_fields(vkey, argv, from, tonumber(redis.call('HGET', vkey, 'na') or '0'), set)
  if #set > 0 then redis.call('HSET', vkey, unpack(set)) end
end

-- Fixed-window counters: KEYS from `first_key` on, each with its limit and window end in ARGV
-- from `first_arg` on (pairs). Counts one use in every window, or in none when one is full;
-- returns 0, or the longest wait (ms) over the full windows.
-- Counts first and takes the counts back when a window is full: the usual case is then one
-- call per window (each call from Lua costs ~2.5 µs). A counter's key names its window, so its
-- expiry is set once, by the use that creates it.
local function take_windows(first_key, first_arg, now)
  local wait, counts = 0, {}
  for i = first_key, #KEYS do
    local a = first_arg + (i - first_key) * 2
    counts[i] = redis.call('INCR', KEYS[i])
    if counts[i] > tonumber(ARGV[a]) then wait = math.max(wait, tonumber(ARGV[a + 1]) - now) end
  end
  for i = first_key, #KEYS do
    if wait > 0 then
      if counts[i] == 1 then redis.call('DEL', KEYS[i]) else redis.call('DECR', KEYS[i]) end
    elseif counts[i] == 1 then
      redis.call('PEXPIREAT', KEYS[i], ARGV[first_arg + (i - first_key) * 2 + 1])
    end
  end
  return wait
end

-- What a batch counts a verification as: its final status, or where its message is.
local function batch_state(st, dlv)
  if st ~= 'pending' then return st end
  if dlv == 'held' then return 'held' end
  if dlv == 'sent' or dlv == 'delivered' then return 'sent' end
  return 'queued'
end

-- The batch state of a verification now, or nil when it belongs to no batch.
local function batch_of(vkey)
  local h = redis.call('HMGET', vkey, 'b', 'st', 'dlv')
  if not h[1] then return nil end
  return batch_state(h[2], h[3])
end

-- Moves a verification of `batch` from one of its batch's per-partition counts to another.
local function batch_shift(vkey, batch, before, after)
  if after == before then return end
  local ck = tag_of(vkey) .. ':bc:' .. batch
  redis.call('HINCRBY', ck, before, -1)
  redis.call('HINCRBY', ck, after, 1)
  -- The counts live as long as the longest-lived record they count.
  local until_ms = redis.call('PEXPIRETIME', vkey)
  if until_ms > 0 and redis.call('PEXPIRETIME', ck) < until_ms then redis.call('PEXPIREAT', ck, until_ms) end
end

-- After a change: moves the verification between its batch's per-partition counts.
local function batch_move(vkey, before)
  if not before then return end
  local after = batch_of(vkey)
  if not after then return end
  batch_shift(vkey, redis.call('HGET', vkey, 'b'), before, after)
end

-- `{ov:p3}:cs:<tenant>:<pseudonym>`: the consents and the suppression of one number. Field
-- `p:<purpose id>` lists that purpose's consents, oldest first (space-separated ids, the last 8);
-- field `!` holds until when campaigns may not ask the number.
local function consent_index(vkey, tenant, pseudonym)
  return tag_of(vkey) .. ':cs:' .. tenant .. ':' .. pseudonym
end

-- Keeps the consent index at least until `at`.
local function index_keep(ikey, at)
  at = tonumber(at)
  if redis.call('PEXPIRETIME', ikey) < at then redis.call('PEXPIREAT', ikey, at) end
end

-- After a decline, a "not me" or a withdrawal: campaigns may not ask this number again
-- until `untl` (ms). `ikey` must exist or be created here.
local function suppress(ikey, untl)
  untl = tonumber(untl)
  if untl <= 0 then return end
  local cur = tonumber(redis.call('HGET', ikey, '!') or '0')
  if untl > cur then redis.call('HSET', ikey, '!', untl) end
  index_keep(ikey, untl)
end

-- A consent's state: 'active', 'withdrawn' or 'expired' (nil when it is not a confirmed one).
-- `c` holds its fields st, wd, cx, as read with HMGET.
local function consent_state(c, now)
  if c[1] ~= 'confirmed' then return nil end
  if c[2] then return 'withdrawn' end
  if c[3] and now >= tonumber(c[3]) then return 'expired' end
  return 'active'
end

-- Who may call on a consent: the caller in its notice (one blob a campaign shares).
local function caller_of(vkey)
  local n = get(vkey, 'n')
  if not n then return nil end
  local ok, notice = pcall(cjson.decode, n)
  if ok and type(notice) == 'table' and type(notice.caller) == 'string' then return notice.caller end
  return nil
end

-- One number's consents, as the lookup answers them: one row per purpose and caller, for its
-- newest consent still kept (purpose '' = every purpose, caller '' = every caller). A row is
-- purpose, caller, id, state, method, channel, confirmed (ms), withdrawn (ms or ''), expires
-- (ms or ''), seed, receipt id ('' until signed), opt-out token hash. A record past its
-- retention is gone, and skipped.
local function consent_rows(ikey, want_purpose, want_caller, now)
  local tag = tag_of(ikey)
  local out = {}
  local h = redis.call('HGETALL', ikey)
  for i = 1, #h, 2 do
    local purpose = string.match(h[i], '^p:(.*)$')
    if purpose and (want_purpose == '' or want_purpose == purpose) then
      local ids = {}
      for v in string.gmatch(h[i + 1], '%S+') do ids[#ids + 1] = v end
      local seen = {}
      for j = #ids, 1, -1 do
        local vkey = tag .. ':v:' .. ids[j]
        local v = redis.call('HMGET', vkey, 'st', 'wd', 'cx', 'm', 'ch', 'done', 'seed', 'rid', 'otk')
        local state = consent_state(v, now)
        local caller = state and (caller_of(vkey) or '')
        if state and not seen[caller] and (want_caller == '' or want_caller == caller) then
          seen[caller] = true
          out[#out + 1] = {purpose, caller, ids[j], state, v[4], v[5], v[6] or '', v[2] or '', v[3] or '',
            v[7] or '', v[8] or '', v[9] or ''}
        end
      end
    end
  end
  return out
end

-- The newest active consent of the number with `tenant` for `purpose` (and `caller`, unless
-- ''), or nil.
local function active_consent(ikey, tenant, purpose, caller, now)
  local ids = {}
  for vid in string.gmatch(redis.call('HGET', ikey, 'p:' .. purpose) or '', '%S+') do ids[#ids + 1] = vid end
  local tag = tag_of(ikey)
  for i = #ids, 1, -1 do
    local vkey = tag .. ':v:' .. ids[i]
    local c = redis.call('HMGET', vkey, 'st', 'wd', 'cx', 't')
    if c[4] == tenant and consent_state(c, now) == 'active' and (caller == '' or caller_of(vkey) == caller) then
      return ids[i]
    end
  end
  return nil
end

-- Appends one event to the partition's outbox stream, trimming what is past retention.
local function emit(events, minid, evtype, id, tenant, now)
  return redis.call('XADD', events, 'MINID', '~', minid, '*',
    'type', evtype, 'vid', id, 'tenant', tenant, 'at', now)
end

-- Deadlines: a pending verification's id in the list of the 10-second bucket its deadline
-- falls in (`<tag>:ex:<bucket>`); `exq` orders the buckets by their end. A list entry costs a
-- third of a sorted-set member. A finished verification's entry is simply dropped by the
-- sweeper when its bucket comes due.
local function deadline(exq, id, at)
  local b = math.ceil(tonumber(at) / 10000)
  -- A bucket is in `exq` exactly while its list exists (the sweeper drops both together).
  if redis.call('RPUSH', tag_of(exq) .. ':ex:' .. b, id) == 1 then redis.call('ZADD', exq, b * 10000, b) end
end

-- Moves a pending verification to a final status and emits its event: once, atomically.
-- A confirmed consent enters its number's consent index, under its purpose, and, when its
-- message went to an e-mail address, that address's set of consents in this partition
-- (`<tag>:ce:<tenant>:<address pseudonym>`), which opens the consents page by e-mail. It counts until
-- `expire_at` (`cx`), when the sweeper sends `consent.expired` (its deadline entry is set here);
-- its record stays `linger` ms longer, so that the lookup can say it expired.
local function finish(vkey, events, minid, id, status, evtype, now, expire_at, linger)
  local before = batch_of(vkey)
  local h = redis.call('HMGET', vkey, 't', 'ps', 'eps')
  redis.call('HSET', vkey, 'st', status, 'done', now)
  if status == 'confirmed' then
    redis.call('HSET', vkey, 'cx', expire_at)
    deadline(tag_of(vkey) .. ':exq', id, expire_at)
    expire_at = tonumber(expire_at) + tonumber(linger or 0)
  end
  -- What only a pending verification needs is dropped: its code's MAC and link-token hash.
  redis.call('HDEL', vkey, 'cm', 'ctk')
  if status == 'confirmed' and h[2] then
    local ikey = consent_index(vkey, h[1], h[2])
    local field = 'p:' .. get(vkey, 'pid')
    local ids = {}
    for v in string.gmatch(redis.call('HGET', ikey, field) or '', '%S+') do ids[#ids + 1] = v end
    ids[#ids + 1] = id
    while #ids > 8 do table.remove(ids, 1) end
    redis.call('HSET', ikey, field, table.concat(ids, ' '))
    index_keep(ikey, expire_at)
    if h[3] then
      local ekey = tag_of(vkey) .. ':ce:' .. h[1] .. ':' .. h[3]
      redis.call('SADD', ekey, id)
      index_keep(ekey, expire_at)
    end
  end
  batch_move(vkey, before)
  emit(events, minid, evtype, id, h[1], now)
  -- Last: with a retention of zero the record is gone from here on.
  keep(vkey, expire_at, true)
end
