package dlr

import "github.com/redis/go-redis/v9"

// Lua scripts of RedisQueue. Each touches only the keys of one account
// (KEYS[1] due zset, KEYS[2] body hash, KEYS[3] expiry zset), which share
// the account's hash tag and so one Cluster slot.
const (
	// putLua: ARGV id, body, due_ms, expires_ms (empty: never). Stores one
	// receipt atomically. It is sent with EVALSHA inside a pipeline (EVAL
	// once more after Redis lost its script cache).
	putLua = `
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1]) else redis.call('ZREM', KEYS[3], ARGV[1]) end
return 1`

	// claimLua: ARGV now_ms, lease_until_ms, max. Moves up to max members
	// due at now to lease_until and returns their bodies; drops members
	// whose body is gone.
	claimLua = `
local ids = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local b = redis.call('HGET', KEYS[2], id)
  if b then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    out[#out + 1] = b
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out`

	// retryLua: ARGV id, body, due_ms. Stores the new body and due time
	// only if the receipt is still pending.
	retryLua = `
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1`

	// cancelLua: ARGV id. Removes a pending receipt; 1 if there was one.
	cancelLua = `
if redis.call('HDEL', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1`

	// expireLua: ARGV now_ms, max. Removes up to max receipts whose expiry
	// score is not after now and returns their bodies.
	expireLua = `
local ids = redis.call('ZRANGE', KEYS[3], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local b = redis.call('HGET', KEYS[2], id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('ZREM', KEYS[3], id)
  if b then out[#out + 1] = b end
end
return out`
)

type redisScripts struct {
	put, claim, retry, cancel, expire *redis.Script
}

func newRedisScripts() redisScripts {
	return redisScripts{
		put:    redis.NewScript(putLua),
		claim:  redis.NewScript(claimLua),
		retry:  redis.NewScript(retryLua),
		cancel: redis.NewScript(cancelLua),
		expire: redis.NewScript(expireLua),
	}
}
