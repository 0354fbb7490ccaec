package dlr

import "github.com/redis/go-redis/v9"

// Lua scripts of RedisQueue. Each touches only keys of one account, which
// share the account's hash tag and so one Cluster slot: a script either
// runs whole on the slot's master or not at all. Key names are in
// redisqueue.go (accountKeys); "fresh" is the list of receipts never
// claimed, in submit order, each element "due|exp|id" with both times as
// 13-digit unix milliseconds (fixed width: compared as strings, cut at
// fixed offsets), exp "9999999999999" for never.
const (
	// doneLua defines doneAt(bucket, id): the key and field of id's
	// outcome in a done bucket (doneKey in redisqueue.go): the key is the
	// bucket and the id without its last character, the field that
	// character.
	doneLua = `
local function doneAt(b, id)
  return b .. ':' .. string.sub(id, 1, -2), string.sub(id, -1)
end
`

	// epochLua defines epochOf(key, expected, new): the account's epoch
	// marker, created as new when missing, and lost = 1 when it was
	// missing although the caller expected one (Redis lost the account's
	// keys).
	epochLua = `
local function epochOf(key, expected, new)
  local e = redis.call('GET', key)
  if e then return e, 0 end
  redis.call('SET', key, new)
  if expected ~= '' then return new, 1 end
  return new, 0
end
`

	// placeLua defines place(dms, xms, id, tdue, texp, fresh, due, exp):
	// where a new receipt due at dms and expiring at xms (13-digit unix ms)
	// goes, given the fresh list's tail tdue/texp. It joins the list's
	// tail (an element in fresh) while the list stays in due and expiry
	// order, up to 250 ms early taking the tail's times; otherwise it is
	// scheduled in the due set, and in the exp set when it expires.
	// Returns the tail's times after it.
	placeLua = `
local function place(dms, xms, id, tdue, texp, fresh, due, exp)
  if dms < tdue and tonumber(tdue) - tonumber(dms) <= 250 then dms = tdue end
  if xms < texp and tonumber(texp) - tonumber(xms) <= 250 then xms = texp end
  if dms >= tdue and xms >= texp then
    fresh[#fresh + 1] = dms .. '|' .. xms .. '|' .. id
    return dms, xms
  end
  due[#due + 1] = dms
  due[#due + 1] = id
  if xms ~= '9999999999999' then
    exp[#exp + 1] = xms
    exp[#exp + 1] = id
  end
  return tdue, texp
end
`

	// putLua: KEYS r, fresh, epoch, due, exp, count sequence, this
	// instance's put number (ownPutsLua), [done buckets (doneAt)...]; ARGV
	// expected epoch, new epoch, mode ("p" put, "o" put of receipts already
	// in due and expiry order, "r" restore), n, then the n fresh-list
	// elements "due|exp|id" (times as 13-digit unix ms, exp "9999999999999"
	// for never), then id and body of each receipt in the same order. The
	// elements and the id/body pairs are contiguous so that the usual batch
	// moves with one unpack each: in mode "o", when the first element is
	// not before the list's tail, the whole batch joins the list as it is
	// (no work per receipt in Lua). Otherwise stores the receipts of one
	// account one by one, in one script (Redis runs it without
	// interleaving; a failure half way leaves nothing a claim would hand
	// out). A receipt joins the tail of the fresh list while the list stays
	// in due and expiry order (the usual case: one delay and one TTL for
	// every receipt; a receipt up to 250 ms early joins it too, due with the
	// tail); one that would break the order goes to the due/exp sets
	// instead. Put mode trusts the caller that ids are new (a repeated id
	// only costs a list element that claims drop). Restore mode leaves a
	// pending receipt as it is and skips one whose outcome is remembered
	// (finished). The epoch marker is created when missing; it reports
	// lost=1 when the caller expected one (Redis lost the account's keys).
	// Returns {stored, epoch, lost, count sequence, put number, finished}:
	// a put of one receipt or more takes the sequence's next number
	// (countLua) and this instance's next put number (ownPutsLua);
	// finished lists the ids a restore skipped as finished (delivered,
	// perhaps by another instance: the buffer drops its copies even when
	// WAIT then fails).
	putLua = doneLua + epochLua + placeLua + ownPutsLua + `
local e, lost = epochOf(KEYS[3], ARGV[1], ARGV[2])
local restore = ARGV[3] == 'r'
local n = tonumber(ARGV[4])
if n == 0 then return {0, e, lost, tonumber(redis.call('GET', KEYS[6]) or '0'), tonumber(redis.call('GET', KEYS[7]) or '0')} end
local seq = redis.call('INCR', KEYS[6])
local own = nextPut(KEYS[7])
local tdue, texp = '0000000000000', '0000000000000'
local tail = redis.call('LINDEX', KEYS[2], -1)
if tail then
  tdue, texp = string.sub(tail, 1, 13), string.sub(tail, 15, 27)
end
local first = ARGV[5]
if ARGV[3] == 'o' and string.sub(first, 1, 13) >= tdue and string.sub(first, 15, 27) >= texp then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 5, 4 + n))
  redis.call('HSET', KEYS[1], unpack(ARGV, 5 + n, 4 + 3 * n))
  return {n, e, lost, seq, own}
end
local fresh, bodies, due, exp, fin = {}, {}, {}, {}, {}
local stored = 0
for i = 1, n do
  local el = ARGV[4 + i]
  local id, body = ARGV[3 + n + 2 * i], ARGV[4 + n + 2 * i]
  local dms, xms = string.sub(el, 1, 13), string.sub(el, 15, 27)
  local skip, isnew = false, true
  if restore then
    for k = 8, #KEYS do
      local dk, df = doneAt(KEYS[k], id)
      if redis.call('HEXISTS', dk, df) == 1 or redis.call('HEXISTS', KEYS[k], id) == 1 then skip = true break end
    end
    if skip then fin[#fin + 1] = id end
    isnew = not skip and redis.call('HEXISTS', KEYS[1], id) == 0
  end
  if not skip then
    stored = stored + 1
    -- A restore of a receipt still pending leaves it as it is, body
    -- included: Redis's is as new as the buffered copy or newer (a
    -- retry's attempts and due time).
    if isnew then
      tdue, texp = place(dms, xms, id, tdue, texp, fresh, due, exp)
      bodies[#bodies + 1] = id
      bodies[#bodies + 1] = body
    end
  end
end
if #fresh > 0 then redis.call('RPUSH', KEYS[2], unpack(fresh)) end
if #due > 0 then redis.call('ZADD', KEYS[4], unpack(due)) end
if #exp > 0 then redis.call('ZADD', KEYS[5], unpack(exp)) end
if #bodies > 0 then redis.call('HSET', KEYS[1], unpack(bodies)) end
return {stored, e, lost, seq, own, fin}`

	// putTailLua: KEYS fresh, epoch, due, exp, r, count sequence, this
	// instance's put number; ARGV
	// expected epoch, new
	// epoch, n, the n ids each as "<length>:<id>". The end of a put in due
	// and expiry order (mode "o") on a single server or Sentinel, where the
	// put is a transaction of plain commands: RPUSH of the n fresh-list
	// elements, HSET of their bodies, then this script, which sees the list
	// with the n elements at its tail and nothing run in between. It checks
	// the epoch marker as putLua does. When the RPUSH failed (the list key
	// holds another type: a transaction runs its other commands anyway) it
	// first removes the bodies the HSET stored, so that no body is left
	// that no claim would find, and fails. When the batch sorts before the
	// element it joined (another instance's clock or delay) it takes the n
	// elements off the list again and places each as putLua does, all
	// inside the transaction: no other client sees the list in between,
	// and nothing is left to do after EXEC. It takes the next number of
	// the count sequence and the instance's next put number, as putLua
	// does. The usual batch costs it a TYPE and two LINDEX, not a
	// conversion to Lua and back per receipt (elements and bodies never
	// pass through Lua). Returns {n, epoch, lost, count sequence, put
	// number}.
	putTailLua = epochLua + placeLua + ownPutsLua + `
local function ztype(k)
  local t = redis.call('TYPE', k)['ok']
  return t == 'zset' or t == 'none'
end
-- First of all: a refused RPUSH leaves no body behind, whatever fails next.
local refused = redis.call('TYPE', KEYS[1])['ok'] ~= 'list'
if refused then
  local ids, p, s = {}, 1, ARGV[4]
  while p <= #s do
    local c = string.find(s, ':', p, true)
    local l = tonumber(string.sub(s, p, c - 1))
    ids[#ids + 1] = string.sub(s, c + 1, c + l)
    p = c + l + 1
  end
  if #ids > 0 then redis.pcall('HDEL', KEYS[5], unpack(ids)) end
end
local e, lost = epochOf(KEYS[2], ARGV[1], ARGV[2])
if refused then
  return redis.error_reply('WRONGTYPE the fresh list of the put holds another type')
end
local seq = redis.call('INCR', KEYS[6])
local own = nextPut(KEYS[7])
local n = tonumber(ARGV[3])
local prev = redis.call('LINDEX', KEYS[1], -n - 1)
if not prev then return {n, e, lost, seq, own} end
local tdue, texp = string.sub(prev, 1, 13), string.sub(prev, 15, 27)
local first = redis.call('LINDEX', KEYS[1], -n)
if string.sub(first, 1, 13) >= tdue and string.sub(first, 15, 27) >= texp then return {n, e, lost, seq, own} end
-- Out of order. Should the sets refuse writes, the batch stays where it
-- is (claimed late, not lost): the bodies are written already.
if not ztype(KEYS[3]) or not ztype(KEYS[4]) then return {n, e, lost, seq, own} end
local els = redis.call('LRANGE', KEYS[1], -n, -1)
redis.call('LTRIM', KEYS[1], 0, -n - 1)
local fresh, due, exp = {}, {}, {}
for _, el in ipairs(els) do
  tdue, texp = place(string.sub(el, 1, 13), string.sub(el, 15, 27), string.sub(el, 29), tdue, texp, fresh, due, exp)
end
if #fresh > 0 then redis.call('RPUSH', KEYS[1], unpack(fresh)) end
if #due > 0 then redis.call('ZADD', KEYS[3], unpack(due)) end
if #exp > 0 then redis.call('ZADD', KEYS[4], unpack(exp)) end
return {n, e, lost, seq, own}`

	// ownPutsLua defines nextPut(key): the next of the instance's put
	// numbers for the account (its own key, which no other instance and
	// no count writes), kept 10 minutes after its last put (twice ownPutForget).
	// A put takes it in the same transaction or script as its receipts,
	// so a Redis that lost the receipts lost the number too, and the
	// number it shows is exactly how many of this instance's puts it
	// kept (wentback.go).
	ownPutsLua = `
local function nextPut(key)
  local v = redis.call('INCR', key)
  redis.call('PEXPIRE', key, 600000)
  return v
end
`

	// expiryLua defines expiryOf(body): a receipt's expiry read from its
	// encoded body (encoding.go, version 1) as 13-digit unix ms, or nil
	// when it has none or the body does not parse. Receipts leased from the
	// fresh list are not in the exp set (their expiry is in the list
	// element, and nearly all are acknowledged long before it); a lease
	// that ends puts them back in the due set, and in the exp set from
	// their bodies. The expiry is a zigzag varint of unix nanoseconds,
	// divided by 2,000,000 (zigzag, then ns to ms) in 28-bit limbs so
	// that every step is exact in Lua's doubles.
	expiryLua = `
local function expiryOf(b)
  if not b or string.byte(b, 1) ~= 1 then return nil end
  local p = 2
  local function uv()
    local v, m = 0, 1
    while true do
      local c = string.byte(b, p)
      if not c then return nil end
      p = p + 1
      if c < 128 then return v + c * m end
      v = v + (c - 128) * m
      m = m * 128
    end
  end
  local function skip(k)
    for _ = 1, k do
      local n = uv()
      if not n then return false end
      p = p + n
    end
    return true
  end
  if not skip(2) then return nil end -- message id, system id
  p = p + 2 -- source TON, NPI
  if not skip(1) then return nil end
  p = p + 2 -- destination TON, NPI
  if not skip(3) then return nil end -- destination, err, reason
  if not uv() or not uv() then return nil end -- submitted, due
  local limb, m = {0, 0, 0}, 1 -- 28-bit limbs of z, low first
  for i = 0, 9 do
    local c = string.byte(b, p + i)
    if not c then return nil end
    local k = math.floor(i / 4) + 1
    limb[k] = limb[k] + (c % 128) * m
    m = m * 128
    if i % 4 == 3 then m = 1 end
    if c < 128 then break end
  end
  if limb[1] + limb[2] + limb[3] == 0 or limb[1] % 2 == 1 then return nil end -- none, or before 1970
  local ms, rem = 0, 0
  for k = 3, 1, -1 do -- long division by 2e6 (zigzag, then ns to ms), exact in doubles
    local cur = rem * 268435456 + limb[k]
    local d = math.floor(cur / 2000000)
    rem = cur - d * 2000000
    ms = ms * 268435456 + d
  end
  return string.format('%013.0f', ms)
end
`

	// liveLeaseLua defines liveLease(lessees, prefix, id, now): whether an
	// instance of the lessees set holds a lease on id that ends after now
	// (unix ms): that instance may be sending it.
	liveLeaseLua = `
local function liveLease(lessees, prefix, id, now)
  for _, l in ipairs(redis.call('SMEMBERS', lessees)) do
    local u = redis.call('ZSCORE', prefix .. l, id)
    if u and tonumber(u) > tonumber(now) then return true end
  end
  return false
end
`

	// typesLua defines typesAre({key, type, ...}): whether each key holds
	// its type or does not exist, and wrongTypeReply(), the error a script
	// answers before its first write when one does not. Redis does not
	// undo a script's writes when a later command fails: a key of another
	// type (an operator's SET on it) met half way would leave receipts
	// removed from one structure and never added to the next.
	typesLua = `
local function typesAre(spec)
  for i = 1, #spec, 2 do
    local t = redis.call('TYPE', spec[i])['ok']
    if t ~= spec[i + 1] and t ~= 'none' then return false end
  end
  return true
end
local function wrongTypeReply()
  return redis.error_reply('WRONGTYPE a key of the account holds another type')
end
`

	// endLeasesLua defines endLeases(r, due, exp, lessees, now, max,
	// prefix, self): leases of the account that ended (the visibility
	// timeout), whoever held them, are due again (at most max per
	// lessee), and join the exp set when they expire; an instance that
	// left no lease is dropped from the lessees. The lease keys share the
	// account's hash tag (same slot).
	endLeasesLua = `
local function endLeases(r, due, exp, lessees, now, max, prefix, self)
  for _, l in ipairs(redis.call('SMEMBERS', lessees)) do
    local lk = prefix .. l
    local ended = redis.call('ZRANGE', lk, '-inf', now, 'BYSCORE', 'LIMIT', 0, max)
    if #ended > 0 then
      local z, x = {}, {}
      local bs = redis.call('HMGET', r, unpack(ended))
      for i, id in ipairs(ended) do
        z[#z + 1] = now
        z[#z + 1] = id
        local e = expiryOf(bs[i] or nil)
        if e then
          x[#x + 1] = e
          x[#x + 1] = id
        end
      end
      redis.call('ZADD', due, unpack(z))
      if #x > 0 then redis.call('ZADD', exp, unpack(x)) end
      redis.call('ZREM', lk, unpack(ended))
    elseif l ~= self and redis.call('EXISTS', lk) == 0 then
      redis.call('SREM', lessees, l) -- an instance that left no lease
    end
  end
end
`

	// claimLua: KEYS r, fresh, due, exp, lease (this instance's), lessees;
	// ARGV now (13-digit unix ms), lease_until_ms, max, instance id, lease
	// key prefix ("P{T}:lease:"), now + 1 ms (13 digits).
	// Leases up to max due receipts: first those scheduled in the due set
	// (retries, ended leases put back), then fresh ones from the head of
	// the list. Leased receipts move to the instance's lease set (score:
	// lease end), which lets a restarted instance take its own leases back
	// at once and others take a dead instance's; fresh ones that expire
	// before the lease ends also join the exp set. A handful of commands
	// per call, not per receipt. Returns {id, ..., next due ms or ""}: the
	// ids only, the caller reads the bodies with HMGET (a plain command:
	// bodies through Lua cost Redis a conversion each way). Scheduled ids
	// whose body is gone (cancelled, acknowledged) are dropped on the way,
	// and so are list elements of receipts already in the due set (put
	// again); a list element whose body is gone (cancelled) is leased, and
	// the caller, finding no body, ends that lease (unleaseGoneLua). The
	// caller gives each claim a lease end of its own, so that a claim run
	// twice (a retry after a lost reply) returns the first run's ids
	// instead of leasing more.
	claimLua = expiryLua + endLeasesLua + typesLua + `
-- Every key checked before the first write: a key of another type (an
-- operator's mistake) would otherwise fail the script half way, after
-- receipts left the list or the due set and before they reached the
-- lease set: lost to every later claim.
if not typesAre({KEYS[1], 'hash', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'zset', KEYS[5], 'zset', KEYS[6], 'set'}) then
  return wrongTypeReply()
end
local now, untl, max = ARGV[1], ARGV[2], tonumber(ARGV[3])
local out = {}
local leased = {}
endLeases(KEYS[1], KEYS[3], KEYS[4], KEYS[6], now, max, ARGV[5], ARGV[4])
-- A fresh receipt that expires before its lease ends joins the exp set
-- now; the others join it if their lease ends (endLeases).
local untl13 = string.format('%013.0f', tonumber(untl))
local function finish()
  if #leased > 0 then
    -- A sorted set starts as a listpack (up to zset-max-listpack-entries,
    -- 128 by default), where each ZADD and ZREM scans it: a lease set
    -- that fills by a claim's hundreds of ids and empties with the acks
    -- would be rebuilt that way each time. A member longer than
    -- zset-max-listpack-value turns it into a skiplist at once; it is
    -- removed again before the script ends, so no command sees it.
    local big = #leased / 2 + redis.call('ZCARD', KEYS[5]) > 128
    local pad = '~lease-set-as-skiplist~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~'
    if big then redis.call('ZADD', KEYS[5], untl, pad) end
    redis.call('ZADD', KEYS[5], unpack(leased))
    if big then redis.call('ZREM', KEYS[5], pad) end
    redis.call('SADD', KEYS[6], ARGV[4])
  end
  -- The last element is the account's next due time after this claim
  -- (empty: none), which spares the caller a NextDue round trip.
  local nd = ''
  local z = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  if z[2] then nd = z[2] end
  local h = redis.call('LINDEX', KEYS[2], 0)
  if h and (nd == '' or tonumber(string.sub(h, 1, 13)) < tonumber(nd)) then nd = string.sub(h, 1, 13) end
  out[#out + 1] = nd
  return out
end
-- A claim sent again (the client retries when a reply was lost) returns
-- what the first one leased: every claim of an instance has a lease end
-- of its own (untl), so the members scored untl are that claim's.
local again = redis.call('ZRANGE', KEYS[5], untl, untl, 'BYSCORE')
if #again > 0 then
  out = again
  return finish()
end
local ids = redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, max)
if #ids > 0 then
  local bs = redis.call('HMGET', KEYS[1], unpack(ids))
  local gone = {}
  for i, id in ipairs(ids) do
    if bs[i] then
      leased[#leased + 1] = untl
      leased[#leased + 1] = id
      out[#out + 1] = id
    else
      gone[#gone + 1] = id
    end
  end
  redis.call('ZREM', KEYS[3], unpack(ids))
  if #gone > 0 then redis.call('ZREM', KEYS[4], unpack(gone)) end
end
local want = max - #out
if want <= 0 then return finish() end
-- An element is due when it sorts before now + 1 ms (its due time leads
-- it, 13 digits): no substring to compare. Only the due ones are read:
-- when the list holds receipts not yet due (the usual case under a
-- delay), a binary search of LINDEX finds how many are due, rather than
-- each of the want elements costing a Lua string.
local after = ARGV[6]
local function isdue(i)
  local el = redis.call('LINDEX', KEYS[2], i)
  return el and el < after
end
local n = want
if not isdue(want - 1) then
  local lo, hi = 0, want - 1 -- the first not due is in [lo, hi]
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if isdue(mid) then lo = mid + 1 else hi = mid end
  end
  n = lo
end
if n == 0 then return finish() end
local es = redis.call('LRANGE', KEYS[2], 0, n - 1)
n = #es
if n == 0 then return finish() end
redis.call('LTRIM', KEYS[2], n, -1)
local fids = {}
for i = 1, n do fids[i] = string.sub(es[i], 29) end
local sched = {}
if redis.call('EXISTS', KEYS[3]) == 1 then sched = redis.call('ZMSCORE', KEYS[3], unpack(fids)) end
-- The list is in expiry order too: once one element expires after the
-- lease ends, so do the rest.
local xs, checkx = {}, string.sub(es[1], 15, 27) < untl13
local nl, no = #leased, #out
for i = 1, n do
  -- An id already in the due set (put again) stays scheduled there.
  if not sched[i] then
    local id = fids[i]
    leased[nl + 1] = untl
    leased[nl + 2] = id
    nl = nl + 2
    no = no + 1
    out[no] = id
    if checkx then
      local x = string.sub(es[i], 15, 27)
      if x < untl13 then
        xs[#xs + 1] = x
        xs[#xs + 1] = id
      else
        checkx = false
      end
    end
  end
end
if #xs > 0 then redis.call('ZADD', KEYS[4], unpack(xs)) end
return finish()`

	// reclaimLua: KEYS lease (of instance ARGV[3]), due, lessees, r, exp;
	// ARGV now_ms, which ("1": all, the instance died; "before": those
	// whose lease ends before ARGV[4], the instance restarted and its new
	// process's own leases end later; "at": those of one claim, whose
	// lease end is ARGV[4]; "0": those whose lease ended), instance id[,
	// lease end]. Puts leases back into the due set: all of them, those of
	// a former process or one claim's, due at once, or those whose lease
	// ended (the visibility timeout), due since their lease end; those
	// that expire join the exp set. Returns how many.
	reclaimLua = expiryLua + `
local ids
local now = ARGV[2] ~= '0'
if ARGV[2] == '1' then
  ids = redis.call('ZRANGE', KEYS[1], 0, -1)
elseif ARGV[2] == 'at' then
  ids = redis.call('ZRANGE', KEYS[1], ARGV[4], ARGV[4], 'BYSCORE')
elseif ARGV[2] == 'before' then
  ids = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[4], 'BYSCORE')
else
  ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'WITHSCORES')
end
if #ids > 0 then
  local z, m = {}, {}
  if now then
    for _, id in ipairs(ids) do
      z[#z + 1] = 0
      z[#z + 1] = id
      m[#m + 1] = id
    end
  else
    for i = 1, #ids, 2 do
      z[#z + 1] = ids[i + 1]
      z[#z + 1] = ids[i]
      m[#m + 1] = ids[i]
    end
  end
  ids = m
  redis.call('ZADD', KEYS[2], unpack(z))
  local bs, x = redis.call('HMGET', KEYS[4], unpack(ids)), {}
  for i, id in ipairs(ids) do
    local e = expiryOf(bs[i] or nil)
    if e then
      x[#x + 1] = e
      x[#x + 1] = id
    end
  end
  if #x > 0 then redis.call('ZADD', KEYS[5], unpack(x)) end
  redis.call('ZREM', KEYS[1], unpack(ids))
end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[3]) end
return #ids`

	// retryLua: KEYS r, due, exp, lease, lessees; ARGV id, body, due_ms,
	// exp, lease key prefix ("P{T}:lease:"), now (unix ms). Stores the new
	// body and due time only if the receipt is still pending, and ends
	// this instance's lease on it. When this instance no longer held a
	// lease on it (it ended before the answer came, and the receipt was
	// due again) and another instance holds a live one, that instance is
	// sending it: the retry leaves it alone (0), or a third instance would
	// claim it at the retry's time while the second still sends it.
	retryLua = liveLeaseLua + `
local mine = redis.call('ZREM', KEYS[4], ARGV[1]) == 1
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if not mine and liveLease(KEYS[5], ARGV[5], ARGV[1], ARGV[6]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '9999999999999' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) end
return 1`

	// finishLua: KEYS r, due, exp, done bucket (doneAt), lease; ARGV
	// outcome value, bucket expiry (unix ms), ids... Removes the receipts
	// and remembers the outcome for each. A fresh-list element of a
	// removed receipt stays until a claim drops it. Returns the number of
	// receipts that were pending.
	finishLua = doneLua + typesLua + `
if not typesAre({KEYS[1], 'hash', KEYS[2], 'zset', KEYS[3], 'zset', KEYS[5], 'zset'}) then return wrongTypeReply() end
local n = 0
local done, keys = {}, {}
local function remember(id)
  local k, f = doneAt(KEYS[4], id)
  local d = done[k]
  if not d then
    d = {}
    done[k] = d
    keys[#keys + 1] = k
  end
  d[#d + 1] = f
  d[#d + 1] = ARGV[1]
end
local ids = {}
for i = 3, #ARGV do
  ids[#ids + 1] = ARGV[i]
  remember(ARGV[i])
end
n = redis.call('HDEL', KEYS[1], unpack(ids))
-- The due and exp sets hold only retried or out-of-order receipts:
-- usually absent, and then not worth passing every id to.
for k = 2, 3 do
  if redis.call('EXISTS', KEYS[k]) == 1 then redis.call('ZREM', KEYS[k], unpack(ids)) end
end
redis.call('ZREM', KEYS[5], unpack(ids))
for _, k in ipairs(keys) do
  redis.call('HSET', k, unpack(done[k]))
  redis.call('PEXPIREAT', k, ARGV[2])
end
return n`

	// cancelLua: KEYS r, due, exp, done bucket (doneAt), lessees; ARGV
	// outcome value, bucket expiry (unix ms), lease key prefix
	// ("P{T}:lease:"), now (unix ms), id. Removes the receipt and
	// remembers its outcome if it is pending and no instance holds a live
	// lease on it: a leased receipt is being sent (its deliver_sm may be
	// on the wire) and can no longer be recalled; its answer would record
	// it DELIVERED after the cancel said DELETED. A lease that ended
	// (the receipt waits to be sent again) does not stop the cancel.
	// Returns 1 (cancelled), 0 (not pending) or -1 (being sent).
	cancelLua = doneLua + typesLua + liveLeaseLua + `
if not typesAre({KEYS[1], 'hash', KEYS[2], 'zset', KEYS[3], 'zset'}) then return wrongTypeReply() end
local id = ARGV[5]
if redis.call('HEXISTS', KEYS[1], id) == 0 then return 0 end
if liveLease(KEYS[5], ARGV[3], id, ARGV[4]) then return -1 end
redis.call('HDEL', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('ZREM', KEYS[3], id)
local dk, df = doneAt(KEYS[4], id)
redis.call('HSET', dk, df, ARGV[1])
redis.call('PEXPIREAT', dk, ARGV[2])
return 1`

	// expireLua: KEYS r, fresh, due, exp, done bucket (doneAt), lessees; ARGV now
	// (13-digit unix ms), max, outcome value, bucket expiry, lease key
	// prefix ("P{T}:lease:"), instance id. Ends the leases that ended
	// (endLeases: so that their receipts are in the exp set), then removes
	// up to max receipts whose expiry is not after now: fresh ones from the
	// head of the list (in submit order, so in expiry order for one TTL)
	// and leased or scheduled ones from the exp set. Returns {id, body,
	// ...}.
	expireLua = expiryLua + endLeasesLua + doneLua + typesLua + `
if not typesAre({KEYS[1], 'hash', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'zset', KEYS[6], 'set'}) then return wrongTypeReply() end
local now, max = ARGV[1], tonumber(ARGV[2])
endLeases(KEYS[1], KEYS[3], KEYS[4], KEYS[6], now, max, ARGV[5], ARGV[6])
local out = {}
local touched = {}
local function finish(id)
  local b = redis.call('HGET', KEYS[1], id)
  if b then
    redis.call('HDEL', KEYS[1], id)
    local dk, df = doneAt(KEYS[5], id)
    redis.call('HSET', dk, df, ARGV[3])
    if not touched[dk] then
      touched[dk] = true
      redis.call('PEXPIREAT', dk, ARGV[4])
    end
    out[#out + 1] = id
    out[#out + 1] = b
  end
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
local es = redis.call('LRANGE', KEYS[2], 0, max - 1)
local popped = 0
for _, el in ipairs(es) do
  if string.sub(el, 15, 27) > now then break end
  popped = popped + 1
  finish(string.sub(el, 29))
end
if popped > 0 then redis.call('LTRIM', KEYS[2], popped, -1) end
-- Up to max in all: the list's removed ones count against it.
local left = max - #out / 2
if left > 0 then
  local ids = redis.call('ZRANGE', KEYS[4], '-inf', now, 'BYSCORE', 'LIMIT', 0, left)
  for _, id in ipairs(ids) do finish(id) end
end

return out`

	// setAsideLua: KEYS r, due, exp, bad, lease; ARGV id. Moves an undecodable
	// body to the bad hash so it never blocks the account's other
	// receipts. Returns 1 if it was there.
	setAsideLua = `
local b = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if not b then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], b)
return 1`

	// unleaseGoneLua: KEYS lease (this instance's), r; ARGV ids the claim
	// leased and found no body for. Ends the lease of each id whose body is
	// gone on the master (a cancelled receipt's list element), and only
	// those: a script runs on the master, where the body is as the last
	// write left it, and between the check and the ZREM nothing runs. An
	// id whose body the HMGET did not see but the master holds (a reply
	// from a lagging replica, a put landing in between) keeps its lease and
	// is delivered when the lease ends: late, not lost. Returns how many
	// leases ended.
	unleaseGoneLua = `
local n = 0
for _, id in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[2], id) == 0 then
    n = n + redis.call('ZREM', KEYS[1], id)
  end
end
return n`

	// countLua: KEYS r, epoch, count sequence, this instance's put number
	// (ownPutsLua); ARGV expected epoch, new epoch. Returns {pending,
	// epoch, lost, count sequence, the sequence before the count, this
	// instance's put number as Redis holds it}: lost=1 when
	// the caller expected an epoch marker and it is gone (Redis lost the
	// account's keys); the marker is then written again. The account's
	// sequence numbers its counts and its puts: a count takes the next
	// multiple of countStride (1,048,576), a put the next number (INCR),
	// and every ack reads it. So a write's number says after which count
	// it came (the multiple at or below it), which lets what Redis lost be
	// summed from one count and every instance's writes after it
	// (lossShares). Whether Redis went back in time is judged from the
	// instance's own put number, not from this sequence: a count run on a
	// Redis that went back takes the next multiple above what it held and
	// hides how far back it went (wentback.go).
	// Doubles hold the numbers exactly for 2^33 counts.
	countLua = `
local e = redis.call('GET', KEYS[2])
local lost = 0
if not e and ARGV[1] ~= '' then
  e = ARGV[2]
  redis.call('SET', KEYS[2], e)
  lost = 1
end
-- Above maxmemory (noeviction) the SET is refused: the count still
-- answers, with -1 for no new number.
local cur = tonumber(redis.call('GET', KEYS[3]) or '0')
local seq = (math.floor(cur / 1048576) + 1) * 1048576
local set = redis.pcall('SET', KEYS[3], string.format('%.0f', seq))
if type(set) == 'table' and set.err then seq = -1 end
return {redis.call('HLEN', KEYS[1]), e or '', lost, seq, cur, tonumber(redis.call('GET', KEYS[4]) or '0')}`
)

// markWentBackLua: KEYS epoch; ARGV the marker expected, the went-back
// marker. Replaces the account's epoch marker only while it is the one
// the finding was made under: a marker written since (a loss found, or
// another instance's finding) is not overwritten. Returns 1 when written.
const markWentBackLua = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`

type redisScripts struct {
	put, claim, retry, finish, cancel, expire, setAside, count, reclaim, unleaseGone, markWentBack, lossSettle *redis.Script
}

func newRedisScripts() redisScripts {
	return redisScripts{
		put:          redis.NewScript(putLua),
		claim:        redis.NewScript(claimLua),
		retry:        redis.NewScript(retryLua),
		finish:       redis.NewScript(finishLua),
		cancel:       redis.NewScript(cancelLua),
		expire:       redis.NewScript(expireLua),
		setAside:     redis.NewScript(setAsideLua),
		count:        redis.NewScript(countLua),
		reclaim:      redis.NewScript(reclaimLua),
		unleaseGone:  redis.NewScript(unleaseGoneLua),
		markWentBack: redis.NewScript(markWentBackLua),
		lossSettle:   redis.NewScript(lossSettleLua),
	}
}
