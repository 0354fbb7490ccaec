package dlr

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// RedisQueue defaults.
const (
	DefaultRedisPrefix = "dlr:"
	DefaultRemember    = 10 * time.Minute
)

// RedisOptions tunes a RedisQueue. The zero value gives the defaults.
type RedisOptions struct {
	// Prefix is prepended to every key (default "dlr:"). Instances sharing
	// receipts use the same prefix; tests use a unique one.
	Prefix string
	// Remember is how long the outcome of a removed receipt stays
	// available to Lookup (query_sm), default 10 minutes.
	Remember time.Duration
}

// RedisQueue is a Queue in Redis, durable and shared by every gateway
// instance using the same prefix. It works with a standalone server,
// Sentinel or Cluster (redis.UniversalClient): the keys of one account
// carry the hash tag {system_id}, so the Lua scripts that touch several of
// them stay within one slot. Key layout, per prefix P:
//
//	P{sys}:due   sorted set: message id → due time or lease end (unix ms)
//	P{sys}:exp   sorted set: message id → expiry time (unix ms)
//	P{sys}:r     hash: message id → encoded receipt (MarshalBinary)
//	Paccounts    set of system ids that ever had a receipt (for the sweep)
//	Pid:<msgid>  string: "1:<sys>" while pending, "<state>:<unix ms>:<sys>" once
//	             removed; expires Remember after expiry/removal
//
// Times are stored with millisecond precision in the sorted sets. See
// docs/receipts.md for the failure cases.
type RedisQueue struct {
	c        redis.UniversalClient
	prefix   string
	remember time.Duration
	s        redisScripts
	put      groupCommit
}

var _ Queue = (*RedisQueue)(nil)

// NewRedisQueue returns a queue on c. The client is not closed by the queue.
func NewRedisQueue(c redis.UniversalClient, opts RedisOptions) *RedisQueue {
	q := &RedisQueue{c: c, prefix: opts.Prefix, remember: opts.Remember, s: newRedisScripts()}
	if q.prefix == "" {
		q.prefix = DefaultRedisPrefix
	}
	if q.remember <= 0 {
		q.remember = DefaultRemember
	}
	return q
}

// accountKeys returns the due, body and expiry keys of sys.
func (q *RedisQueue) accountKeys(sys string) []string {
	tag := sys
	if strings.ContainsAny(sys, "{}") { // keep the hash tag well formed
		tag = "x" + hex.EncodeToString([]byte(sys))
	}
	base := q.prefix + "{" + tag + "}:"
	return []string{base + "due", base + "r", base + "exp"}
}

func (q *RedisQueue) idKey(id string) string { return q.prefix + "id:" + id }
func (q *RedisQueue) accountsKey() string    { return q.prefix + "accounts" }

// finalValue is "<state>:<unix ms>:<system_id>".
func finalValue(o Outcome, sys string) string {
	return strconv.Itoa(int(o.State)) + ":" + strconv.FormatInt(o.At.UnixMilli(), 10) + ":" + sys
}
func pendingValue(sys string) string      { return strconv.Itoa(int(pdu.StateEnroute)) + ":" + sys }
func redisErr(op string, err error) error { return fmt.Errorf("dlr: redis %s: %w", op, err) }
func scoreMillis(t time.Time) int64       { return unixNano(t) / int64(time.Millisecond) }
func millisTime(ms float64) time.Time     { return time.UnixMilli(int64(ms)).UTC() }

// Claim leases up to max due receipts of systemID (one Lua script).
func (q *RedisQueue) Claim(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	if max <= 0 {
		return nil, nil
	}
	until := now.Add(lease).UnixMilli()
	if until <= now.UnixMilli() {
		until = now.UnixMilli() + 1
	}
	bodies, err := q.s.claim.Run(ctx, q.c, q.accountKeys(systemID), now.UnixMilli(), until, max).StringSlice()
	if err != nil {
		return nil, redisErr("claim", err)
	}
	return decodeAll(bodies)
}

// decodeAll decodes bodies; undecodable ones are skipped and reported in a
// joined ErrCorrupt error next to the good receipts.
func decodeAll(bodies []string) ([]Receipt, error) {
	out := make([]Receipt, 0, len(bodies))
	var errs []error
	for _, b := range bodies {
		r, err := decodeReceipt(b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// Ack removes the receipts and records o under their ids.
func (q *RedisQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	if len(rs) == 0 {
		return nil
	}
	byAccount := make(map[string][]any)
	for _, r := range rs {
		byAccount[r.SystemID] = append(byAccount[r.SystemID], r.MessageID)
	}
	// Body first: a partial run leaves at most sorted-set members without a
	// body, which Claim and Expire clean up.
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for sys, ids := range byAccount {
			k := q.accountKeys(sys)
			strs := make([]string, len(ids))
			for i, id := range ids {
				strs[i] = id.(string)
			}
			p.HDel(ctx, k[1], strs...)
			p.ZRem(ctx, k[0], ids...)
			p.ZRem(ctx, k[2], ids...)
		}
		for _, r := range rs {
			p.Set(ctx, q.idKey(r.MessageID), finalValue(o, r.SystemID), q.remember)
		}
		return nil
	})
	if err != nil {
		return redisErr("ack", err)
	}
	return nil
}

// Retry stores r again, due at at, if it is still pending.
func (q *RedisQueue) Retry(ctx context.Context, r Receipt, at time.Time) error {
	r.DueAt = at
	body, _ := r.MarshalBinary()
	if err := q.s.retry.Run(ctx, q.c, q.accountKeys(r.SystemID), r.MessageID, body, scoreMillis(at)).Err(); err != nil {
		return redisErr("retry", err)
	}
	return nil
}

// Cancel removes a pending receipt of systemID.
func (q *RedisQueue) Cancel(ctx context.Context, systemID, messageID string, at time.Time) (bool, error) {
	n, err := q.s.cancel.Run(ctx, q.c, q.accountKeys(systemID), messageID).Int()
	if err != nil {
		return false, redisErr("cancel", err)
	}
	if n == 0 {
		return false, nil
	}
	if err := q.c.Set(ctx, q.idKey(messageID), finalValue(Outcome{State: pdu.StateDeleted, At: at}, systemID), q.remember).Err(); err != nil {
		return true, redisErr("cancel", err)
	}
	return true, nil
}

func parsePending(v string) (sys string, ok bool) {
	st, rest, found := strings.Cut(v, ":")
	if !found || st != strconv.Itoa(int(pdu.StateEnroute)) {
		return "", false
	}
	return rest, true
}

// Lookup reads the id index; a pending receipt's body gives its
// destination and submit time.
func (q *RedisQueue) Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error) {
	v, err := q.c.Get(ctx, q.idKey(messageID)).Result()
	if errors.Is(err, redis.Nil) {
		return Outcome{}, false, nil
	}
	if err != nil {
		return Outcome{}, false, redisErr("lookup", err)
	}
	if sys, ok := parsePending(v); ok {
		if sys != systemID {
			return Outcome{}, false, nil
		}
		o := Outcome{State: pdu.StateEnroute, SystemID: sys}
		if body, err := q.c.HGet(ctx, q.accountKeys(sys)[1], messageID).Result(); err == nil {
			if r, err := decodeReceipt(body); err == nil {
				o.Destination, o.SubmittedAt = r.Dest.Addr, r.SubmittedAt
			}
		}
		return o, true, nil
	}
	st, rest, _ := strings.Cut(v, ":")
	ms, sys, _ := strings.Cut(rest, ":")
	s, err1 := strconv.Atoi(st)
	m, err2 := strconv.ParseInt(ms, 10, 64)
	if err1 != nil || err2 != nil {
		return Outcome{}, false, fmt.Errorf("%w: id index %q", ErrCorrupt, v)
	}
	if sys != systemID {
		return Outcome{}, false, nil
	}
	return Outcome{State: pdu.MessageState(s), At: time.UnixMilli(m).UTC(), SystemID: sys}, true, nil
}

// PendingCount returns the size of the account's body hash.
func (q *RedisQueue) PendingCount(ctx context.Context, systemID string) (int, error) {
	n, err := q.c.HLen(ctx, q.accountKeys(systemID)[1]).Result()
	if err != nil {
		return 0, redisErr("pending count", err)
	}
	return int(n), nil
}

// NextDue returns the lowest score of the account's due set.
func (q *RedisQueue) NextDue(ctx context.Context, systemID string) (time.Time, bool, error) {
	zs, err := q.c.ZRangeWithScores(ctx, q.accountKeys(systemID)[0], 0, 0).Result()
	if err != nil {
		return time.Time{}, false, redisErr("next due", err)
	}
	if len(zs) == 0 {
		return time.Time{}, false, nil
	}
	return millisTime(zs[0].Score), true, nil
}

// Expire runs the expiry script on every account until max receipts are
// removed, then records them as expired.
func (q *RedisQueue) Expire(ctx context.Context, now time.Time, max int) ([]Receipt, error) {
	accounts, err := q.c.SMembers(ctx, q.accountsKey()).Result()
	if err != nil {
		return nil, redisErr("expire", err)
	}
	var out []Receipt
	var errs []error
	for _, sys := range accounts {
		if len(out) >= max {
			break
		}
		bodies, err := q.s.expire.Run(ctx, q.c, q.accountKeys(sys), now.UnixMilli(), max-len(out)).StringSlice()
		if err != nil {
			errs = append(errs, redisErr("expire", err))
			continue
		}
		rs, err := decodeAll(bodies)
		if err != nil {
			errs = append(errs, err)
		}
		out = append(out, rs...)
	}
	if len(out) > 0 {
		expired := Outcome{State: pdu.StateExpired, At: now}
		_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, r := range out {
				p.Set(ctx, q.idKey(r.MessageID), finalValue(expired, r.SystemID), q.remember)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, redisErr("expire", err))
		}
	}
	return out, errors.Join(errs...)
}

// Len sums the receipts of every account.
func (q *RedisQueue) Len(ctx context.Context) (int, error) {
	accounts, err := q.c.SMembers(ctx, q.accountsKey()).Result()
	if err != nil {
		return 0, redisErr("len", err)
	}
	cmds := make([]*redis.IntCmd, len(accounts))
	_, err = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sys := range accounts {
			cmds[i] = p.HLen(ctx, q.accountKeys(sys)[1])
		}
		return nil
	})
	if err != nil {
		return 0, redisErr("len", err)
	}
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n, nil
}

// Healthy pings Redis (readiness).
func (q *RedisQueue) Healthy(ctx context.Context) error {
	if err := q.c.Ping(ctx).Err(); err != nil {
		return redisErr("ping", err)
	}
	return nil
}
