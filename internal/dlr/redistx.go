package dlr

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The ack as a transaction of plain commands. A Lua script costs Redis
// about as much again as the commands it runs (every argument and reply
// converted to a Lua string and back, tables per receipt); MULTI/EXEC keeps
// the atomicity (every key of an account shares its hash tag, so one slot
// // on a Cluster) without that. The ack decides nothing from what it reads:
// its commands are the same whatever Redis holds, and it finishes receipts
// already sent, so one of its commands failing when it runs (a key of the
// wrong type) loses no receipt, as finishLua failing half way would not. A
// Redis above maxmemory refuses every write queued in a transaction (OOM,
// then EXECABORT) but lets a script through once its first write (HDEL)
// has run: Ack then falls back on finishLua (refusedByServer). Everything that reads before it writes (put, restore, cancel,
// claim, expiry) stays in Lua, where nothing runs in between.

// queueAck queues the ack of ids (*string message ids) of sys in p, a
// transaction: HDEL from the pending index, ZREM from the due, exp and
// this instance's lease sets (on a set that does not exist, as the due and
// exp sets usually do not, ZREM costs next to nothing), HSET the outcome
// into the done bucket's keys (doneKey) and PEXPIREAT each. What finishLua does
// without only_pending, in plain commands. Then the account's count number
// (countLua): after which count the ack came. It is read with INCRBY 0,
// which answers 0 rather than nil when no count ran yet: a nil would be
// the transaction's first error and hide another account's. Then the
// epoch marker (recordAcks). The HDEL's reply says how many the ack removed.
func (q *RedisQueue) queueAck(ctx context.Context, p redis.Pipeliner, sys, val string, ids []any) ackCmds {
	k := q.accountKeys(sys)
	bucket, until := q.doneBucket(sys, time.Now())
	n := len(ids)
	// The outcomes by done key (doneKey), sorted by it: an ack's ids come
	// back from several receivers interleaved, while ids that count up
	// share keys sixteen at a time. Sorted by the id's part of the key (a
	// substring), and each key built once.
	outs := make([]doneField, n)
	for i, id := range ids {
		outs[i].key, outs[i].field = doneSplit(*id.(*string))
	}
	slices.SortFunc(outs, func(a, b doneField) int { return strings.Compare(a.key, b.key) })
	keys := 0
	for i := range outs {
		if i == 0 || outs[i].key != outs[i-1].key {
			keys++
		}
	}
	// One backing array for every command's arguments.
	all := make([]any, 0, 4*(n+2)+5*keys+2*n)
	add := func(cmd, key string) []any {
		start := len(all)
		all = append(all, cmd, key)
		all = append(all, ids...)
		return all[start:len(all):len(all)]
	}
	var c ackCmds
	for i, a := range [][]any{add("hdel", k[0]), add("zrem", k[2]), add("zrem", k[3]), add("zrem", q.leaseKey(sys, q.o.InstanceID))} {
		cmd := redis.NewIntCmd(ctx, a...)
		if i == 0 {
			c.removed = cmd
		}
		_ = p.Process(ctx, cmd)
	}
	at := strconv.FormatInt(until, 10)
	for i := 0; i < n; {
		j := i + 1
		for j < n && outs[j].key == outs[i].key {
			j++
		}
		key := donePartKey(bucket, outs[i].key)
		start := len(all)
		all = append(all, "hset", key)
		for k := i; k < j; k++ {
			all = append(all, &outs[k].field, &val)
		}
		_ = p.Process(ctx, redis.NewIntCmd(ctx, all[start:len(all):len(all)]...))
		start = len(all)
		all = append(all, "pexpireat", key, &at)
		_ = p.Process(ctx, redis.NewIntCmd(ctx, all[start:len(all):len(all)]...))
		i = j
	}
	c.seq = redis.NewIntCmd(ctx, "incrby", q.countSeqKey(sys), 0)
	_ = p.Process(ctx, c.seq)
	// GETRANGE answers "" for a missing key, where GET's nil would be
	// the transaction's first error, as above.
	c.epoch = redis.NewStringCmd(ctx, "getrange", q.epochKey(sys), 0, -1)
	_ = p.Process(ctx, c.epoch)
	return c
}

// ackCmds are the replies of one account's ack that it records: how many
// receipts the HDEL removed (not those Redis no longer held), the count
// number and the epoch marker.
type ackCmds struct {
	removed, seq *redis.IntCmd
	epoch        *redis.StringCmd
}

// ackResult is what ackCmds answered.
type ackResult struct {
	removed int
	seq     int64
	epoch   string
}

// doneField is an id cut as doneKey cuts it: the part that goes into the
// key, and the field.
type doneField struct{ key, field string }

// ackTx acks byAccount in one transaction and returns, per account, how
// many receipts it removed, the count number at the ack and the epoch
// marker. The caller makes sure the transaction holds one slot on a
// Cluster (one account).
func (q *RedisQueue) ackTx(ctx context.Context, o Outcome, byAccount map[string][]any) (map[string]ackResult, error) {
	val := finalValue(o)
	cmds := make(map[string]ackCmds, len(byAccount))
	_, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for sys, ids := range byAccount {
			cmds[sys] = q.queueAck(ctx, p, sys, val, ids)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := make(map[string]ackResult, len(cmds))
	for sys, c := range cmds {
		res[sys] = ackResult{removed: int(c.removed.Val()), seq: c.seq.Val(), epoch: c.epoch.Val()}
	}
	return res, nil
}

// refusedByServer reports whether err is Redis's own refusal (an error
// reply such as OOM or EXECABORT), not a failure to reach it.
func refusedByServer(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && !errors.Is(err, redis.Nil)
}
