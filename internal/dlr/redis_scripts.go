package dlr

import "github.com/redis/go-redis/v9"

// Lua scripts of RedisQueue. Each touches only keys of one account, which
// share the account's hash tag and so one Cluster slot: a script either
// runs whole on the slot's master or not at all. Key names are in
// redisqueue.go (accountKeys); "fresh" is the list of receipts never
// claimed, in submit order, each element "due_ms|exp_ms|id".
const (
	// putLua: KEYS r, fresh, epoch, due, exp, [done buckets...]; ARGV
	// expected epoch, new epoch, mode ("p" put, "r" restore), then id,
	// body, due_ms, exp_ms for each receipt. Stores the receipts of one
	// account in one script (Redis runs it without interleaving; a
	// failure half way leaves nothing a claim would hand out). A new receipt is appended to the fresh list
	// while due and expiry times keep the list in order (the usual case:
	// one delay and one TTL for every receipt); one that would break the
	// order goes to the due/exp sets instead. Put mode replaces a pending
	// receipt and reschedules it; restore mode leaves a pending one as it
	// is and skips one whose outcome is remembered (finished: delivered,
	// cancelled, expired). The epoch marker is created when missing; it
	// reports lost=1 when the caller expected one (Redis lost the
	// account's keys). Returns {stored, epoch, lost}.
	putLua = `
local e = redis.call('GET', KEYS[3])
local lost = 0
if not e then
  e = ARGV[2]
  redis.call('SET', KEYS[3], e)
  if ARGV[1] ~= '' then lost = 1 end
end
local restore = ARGV[3] == 'r'
local fresh, bodies, due, exp = {}, {}, {}, {}
local tdue, texp = 0, 0
local tail = redis.call('LINDEX', KEYS[2], -1)
if tail then
  local d, x = string.match(tail, '^([^|]*)|([^|]*)|')
  tdue = tonumber(d) or 0
  texp = tonumber(x) or math.huge
end
for i = 4, #ARGV, 4 do
  local id, dms, xms = ARGV[i], ARGV[i+2], ARGV[i+3]
  local skip = false
  if restore then
    for k = 6, #KEYS do
      if redis.call('HEXISTS', KEYS[k], id) == 1 then skip = true break end
    end
  end
  if not skip then
    local isnew = redis.call('HEXISTS', KEYS[1], id) == 0
    local d, x = tonumber(dms), tonumber(xms) or math.huge
    if isnew and d >= tdue and x >= texp then
      fresh[#fresh + 1] = dms .. '|' .. xms .. '|' .. id
      tdue, texp = d, x
    elseif isnew or not restore then
      due[#due + 1] = dms
      due[#due + 1] = id
      if xms ~= '' then
        exp[#exp + 1] = xms
        exp[#exp + 1] = id
      end
    end
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = ARGV[i+1]
  end
end
-- Schedule first, bodies last in one command: a script that fails half
-- way leaves at most schedule entries without a body, which claims drop.
if #fresh > 0 then redis.call('RPUSH', KEYS[2], unpack(fresh)) end
if #due > 0 then redis.call('ZADD', KEYS[4], unpack(due)) end
if #exp > 0 then redis.call('ZADD', KEYS[5], unpack(exp)) end
if #bodies > 0 then redis.call('HSET', KEYS[1], unpack(bodies)) end
return {#bodies / 2, e, lost}`

	// claimLua: KEYS r, fresh, due, exp; ARGV now_ms, lease_until_ms, max.
	// Leases up to max due receipts: first those scheduled in the due set
	// (retries, ended leases), then fresh ones from the head of the list,
	// which move to the due set (and, with an expiry, the exp set) while
	// leased. Returns {id, body, id, body, ...}; ids whose body is gone
	// (cancelled, acknowledged) are dropped on the way, and so are list
	// elements of receipts already in the due set (put again).
	claimLua = `
local now, untl, max = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local out = {}
local ids = redis.call('ZRANGE', KEYS[3], '-inf', now, 'BYSCORE', 'LIMIT', 0, max)
for _, id in ipairs(ids) do
  local b = redis.call('HGET', KEYS[1], id)
  if b then
    redis.call('ZADD', KEYS[3], untl, id)
    out[#out + 1] = id
    out[#out + 1] = b
  else
    redis.call('ZREM', KEYS[3], id)
    redis.call('ZREM', KEYS[4], id)
  end
end
local want = max - #out / 2
if want > 0 then
  local es = redis.call('LRANGE', KEYS[2], 0, want - 1)
  local popped = 0
  for _, el in ipairs(es) do
    local due, exp, id = string.match(el, '^([^|]*)|([^|]*)|(.*)$')
    if due and tonumber(due) > now then break end
    popped = popped + 1
    local b = id and redis.call('HGET', KEYS[1], id)
    -- NX: a receipt that was rescheduled in the due set is its entry's.
    if b and redis.call('ZADD', KEYS[3], 'NX', untl, id) == 1 then
      if exp ~= '' then redis.call('ZADD', KEYS[4], exp, id) end
      out[#out + 1] = id
      out[#out + 1] = b
    end
  end
  if popped > 0 then redis.call('LTRIM', KEYS[2], popped, -1) end
end
return out`

	// retryLua: KEYS r, due, exp; ARGV id, body, due_ms, exp_ms. Stores
	// the new body and due time only if the receipt is still pending.
	retryLua = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) end
return 1`

	// finishLua: KEYS r, due, exp, done bucket; ARGV outcome value,
	// bucket expiry (unix ms), only_pending ("1": cancel), ids...
	// Removes the receipts and remembers the outcome for each. With
	// only_pending, ids that are not pending are left alone. A fresh-list
	// element of a removed receipt stays until a claim drops it. Returns
	// the number of receipts that were pending.
	finishLua = `
local n = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local was = redis.call('HDEL', KEYS[1], id)
  n = n + was
  if was == 1 or ARGV[3] ~= '1' then
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
    redis.call('HSET', KEYS[4], id, ARGV[1])
  end
end
redis.call('PEXPIREAT', KEYS[4], ARGV[2])
return n`

	// expireLua: KEYS r, fresh, due, exp, done bucket; ARGV now_ms, max,
	// outcome value, bucket expiry. Removes up to max receipts whose
	// expiry is not after now: fresh ones from the head of the list (in
	// submit order, so in expiry order for one TTL) and leased or
	// scheduled ones from the exp set. Returns {id, body, ...}.
	expireLua = `
local now, max = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
local function finish(id)
  local b = redis.call('HGET', KEYS[1], id)
  if b then
    redis.call('HDEL', KEYS[1], id)
    redis.call('HSET', KEYS[5], id, ARGV[3])
    out[#out + 1] = id
    out[#out + 1] = b
  end
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
local es = redis.call('LRANGE', KEYS[2], 0, max - 1)
local popped = 0
for _, el in ipairs(es) do
  local due, exp, id = string.match(el, '^([^|]*)|([^|]*)|(.*)$')
  if id and exp ~= '' and tonumber(exp) > now then break end
  if id and exp == '' then break end
  popped = popped + 1
  if id then finish(id) end
end
if popped > 0 then redis.call('LTRIM', KEYS[2], popped, -1) end
local ids = redis.call('ZRANGE', KEYS[4], '-inf', now, 'BYSCORE', 'LIMIT', 0, max)
for _, id in ipairs(ids) do finish(id) end
if #out > 0 then redis.call('PEXPIREAT', KEYS[5], ARGV[4]) end
return out`

	// setAsideLua: KEYS r, due, exp, bad; ARGV id. Moves an undecodable
	// body to the bad hash so it never blocks the account's other
	// receipts. Returns 1 if it was there.
	setAsideLua = `
local b = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if not b then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], b)
return 1`

	// countLua: KEYS r, epoch; ARGV expected epoch, new epoch. Returns
	// {pending, epoch, lost}: lost=1 when the caller expected an epoch
	// marker and it is gone (Redis lost the account's keys); the marker
	// is then written again.
	countLua = `
local e = redis.call('GET', KEYS[2])
local lost = 0
if not e and ARGV[1] ~= '' then
  e = ARGV[2]
  redis.call('SET', KEYS[2], e)
  lost = 1
end
return {redis.call('HLEN', KEYS[1]), e or '', lost}`
)

type redisScripts struct {
	put, claim, retry, finish, expire, setAside, count *redis.Script
}

func newRedisScripts() redisScripts {
	return redisScripts{
		put:      redis.NewScript(putLua),
		claim:    redis.NewScript(claimLua),
		retry:    redis.NewScript(retryLua),
		finish:   redis.NewScript(finishLua),
		expire:   redis.NewScript(expireLua),
		setAside: redis.NewScript(setAsideLua),
		count:    redis.NewScript(countLua),
	}
}
