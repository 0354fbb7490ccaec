package dlr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Plain-command transactions for the two writes every receipt makes: the
// ordered put and the ack. A Lua script costs Redis about as much again as
// the commands it runs (every argument and reply converted to a Lua string
// and back, tables per receipt); MULTI/EXEC keeps the atomicity (every key
// of an account shares its hash tag, so one slot on a Cluster) without
// that. Everything that decides per receipt (restore, out-of-order puts,
// cancel, claim, expiry) stays in Lua.

// orderTolerance is how far (ms) a receipt may be due or expire before
// the tail of its account's fresh list and still join the list behind it
// (claimed or expired up to that much late): concurrent group commits of
// one instance and the clocks of several land a little out of order.
const orderTolerance = 250

// queueAck queues the ack of ids (*string message ids) of sys in p, a
// transaction: HDEL from the pending index, ZREM from the due, exp and
// this instance's lease sets (on a set that does not exist, as the due and
// exp sets usually do not, ZREM costs next to nothing), HSET the outcome
// into the done bucket and PEXPIREAT the bucket. What finishLua does
// without only_pending, in plain commands.
func (q *RedisQueue) queueAck(ctx context.Context, p redis.Pipeliner, sys, val string, ids []any) {
	k := q.accountKeys(sys)
	bucket, until := q.doneBucket(sys, time.Now())
	n := len(ids)
	// One backing array for every command's arguments.
	all := make([]any, 0, 4*(n+2)+2*n+2)
	add := func(cmd, key string) []any {
		start := len(all)
		all = append(all, cmd, key)
		all = append(all, ids...)
		return all[start:len(all):len(all)]
	}
	for _, a := range [][]any{add("hdel", k[0]), add("zrem", k[2]), add("zrem", k[3]), add("zrem", q.leaseKey(sys, q.o.InstanceID))} {
		_ = p.Process(ctx, redis.NewIntCmd(ctx, a...))
	}
	start := len(all)
	all = append(all, "hset", bucket)
	for _, id := range ids {
		all = append(all, id, &val)
	}
	_ = p.Process(ctx, redis.NewIntCmd(ctx, all[start:]...))
	p.PExpireAt(ctx, bucket, time.UnixMilli(until))
}

// ackTx acks byAccount in one transaction. The caller makes sure the
// transaction holds one slot on a Cluster (one account).
func (q *RedisQueue) ackTx(ctx context.Context, o Outcome, byAccount map[string][]any) error {
	val := finalValue(o)
	_, err := q.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for sys, ids := range byAccount {
			q.queueAck(ctx, p, sys, val, ids)
		}
		return nil
	})
	return err
}

// putTx is an ordered put group (mode "o") as plain commands: GET and SET
// NX of the epoch marker (the marker as it was: lost detection as in
// putLua), LINDEX of the fresh list's tail (as it was before this put),
// RPUSH of the elements and HSET of the bodies.
type putTx struct {
	args  [][]any // the commands' arguments, in order
	first string  // the first (earliest) element
	elems []any   // every element (*string), in order
	pairs []any   // id, body, ... (*string)
	// manual MULTI/EXEC in a pipeline: exec holds the replies.
	exec *redis.SliceCmd
	// ClusterClient.TxPipelined: each command holds its reply.
	cmds []*redis.Cmd
}

const (
	txGet = iota
	txSetNX
	txTail
	txRPush
	txHSet
	txCommands
)

// newPutTx builds the commands of an ordered group: strs holds the n
// elements, then id, body, ... in order (passed as *string: boxing a
// string in an interface allocates, a pointer does not).
func newPutTx(keys []string, newEpoch string, strs []string, n int) *putTx {
	r, fresh, epoch := keys[0], keys[1], keys[2]
	// One backing array for every command's arguments.
	all := make([]any, 0, 2+4+3+2+2+len(strs))
	cut := func(a ...any) []any {
		start := len(all)
		all = append(all, a...)
		return all[start:len(all):len(all)]
	}
	ptrs := func(cmd, key string, from, to int) []any {
		start := len(all)
		all = append(all, cmd, key)
		for i := from; i < to; i++ {
			all = append(all, &strs[i])
		}
		return all[start:len(all):len(all)]
	}
	t := &putTx{args: make([][]any, txCommands)}
	t.args[txGet] = cut("get", epoch)
	t.args[txSetNX] = cut("set", epoch, newEpoch, "nx")
	t.args[txTail] = cut("lindex", fresh, -1)
	t.args[txRPush] = ptrs("rpush", fresh, 0, n)
	t.args[txHSet] = ptrs("hset", r, n, len(strs))
	t.elems, t.pairs = t.args[txRPush][2:], t.args[txHSet][2:]
	if n > 0 {
		t.first = strs[0]
	}
	return t
}

// queueMulti queues the transaction in p, a pipeline on one connection
// (a Client, or a Cluster master with WAIT): MULTI, the commands (each
// answered QUEUED), EXEC. A pipeline rather than TxPipelined, so that
// WAIT can follow EXEC on the same connection.
func (t *putTx) queueMulti(ctx context.Context, p redis.Pipeliner) {
	_ = p.Process(ctx, redis.NewStatusCmd(ctx, "multi"))
	for _, a := range t.args {
		_ = p.Process(ctx, redis.NewStatusCmd(ctx, a...))
	}
	t.exec = redis.NewSliceCmd(ctx, "exec")
	_ = p.Process(ctx, t.exec)
}

// runCluster runs the transaction with the Cluster client, which routes it
// to the slot's master and follows redirections. Its outcome is read
// from each command (replies): TxPipelined's own error is only the first
// command's, and a command that failed when it ran must not hide the
// others' writes.
func (t *putTx) runCluster(ctx context.Context, c *redis.ClusterClient) {
	t.cmds = make([]*redis.Cmd, len(t.args))
	_, _ = c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range t.args {
			t.cmds[i] = redis.NewCmd(ctx, a...)
			_ = p.Process(ctx, t.cmds[i])
		}
		return nil
	})
}

// replies returns the commands' replies: nil for a missing value, an
// error for a command that failed inside the transaction (the others ran:
// MULTI/EXEC does not roll back). The error is EXEC's (nothing ran) or the
// connection's (unknown).
func (t *putTx) replies() ([]any, error) {
	var vals []any
	if t.exec != nil {
		v, err := t.exec.Result()
		if err != nil {
			return nil, err
		}
		vals = v
	} else {
		vals = make([]any, len(t.cmds))
		for i, c := range t.cmds {
			v, err := c.Result()
			var rerr redis.Error
			switch {
			case errors.Is(err, redis.Nil):
			case errors.As(err, &rerr) && !isTxAbort(err):
				vals[i] = err // this command's own failure
			case err != nil:
				return nil, err
			default:
				vals[i] = v
			}
		}
	}
	if len(vals) != txCommands {
		return nil, fmt.Errorf("put transaction returned %d replies, want %d", len(vals), txCommands)
	}
	return vals, nil
}

// isTxAbort: EXEC refused the transaction (a command was refused when
// queued: MOVED, READONLY, OOM...), so nothing ran.
func isTxAbort(err error) bool { return strings.HasPrefix(err.Error(), "EXECABORT") }

// result reads the transaction's outcome as putLua's {stored, epoch, lost}
// and the elements that landed out of order behind the list's old tail
// (beyond orderTolerance), which need moving to the due and exp sets.
func (t *putTx) result(expected, newEpoch string) (stored int, epoch string, lost bool, late []any, err error) {
	vals, err := t.replies()
	if err != nil {
		return 0, "", false, nil, err
	}
	var first error
	failed := 0
	for _, v := range vals {
		if e, ok := v.(error); ok {
			first = cmp.Or(first, e)
			failed++
		}
	}
	switch {
	case failed == len(vals): // refused as a whole (Cluster client: redirections and aborts land on each command)
		return 0, "", false, nil, first
	case failed > 0:
		return 0, "", false, nil, &txPartialError{err: first, rpushed: !isErr(vals[txRPush]), hset: !isErr(vals[txHSet])}
	}
	epoch, _ = vals[txGet].(string)
	if epoch == "" {
		epoch, lost = newEpoch, expected != ""
	}
	if tail, ok := vals[txTail].(string); ok {
		late = t.lateElems(tail)
	}
	return len(t.elems), epoch, lost, late, nil
}

// lateElems returns the elements, sorted by due and expiry, that are due
// or expire more than orderTolerance before tail.
func (t *putTx) lateElems(tail string) []any {
	tdue, tok := elemMillis(tail, 0)
	texp, xok := elemMillis(tail, 14)
	if !tok || !xok {
		return nil
	}
	if d, _ := elemMillis(t.first, 0); d >= tdue-orderTolerance {
		if x, _ := elemMillis(t.first, 14); x >= texp-orderTolerance {
			return nil // the usual case
		}
	}
	var late []any
	for _, e := range t.elems {
		s := *e.(*string)
		d, _ := elemMillis(s, 0)
		x, _ := elemMillis(s, 14)
		if d < tdue-orderTolerance || x < texp-orderTolerance {
			late = append(late, e)
		}
	}
	return late
}

func isErr(v any) bool { _, ok := v.(error); return ok }

// txPartialError: a command of a put's transaction failed when it ran (a
// key of the wrong type), and the others ran. The put fails, so what it
// did write is undone (undoPut): a body left without its list element
// would never be claimed, and a restore would leave it as it is.
type txPartialError struct {
	err           error
	rpushed, hset bool // which of the writes ran
}

func (e *txPartialError) Error() string { return e.err.Error() }
func (e *txPartialError) Unwrap() error { return e.err }

// undoPut removes what a put's transaction wrote before one of its
// commands failed: its bodies (put trusts its ids are new) and its list
// elements. Best effort: it is logged when it fails.
func (q *RedisQueue) undoPut(ctx context.Context, g *putGroup, pe *txPartialError) {
	k := q.accountKeys(g.sys)
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if pe.hset {
			args := make([]any, 0, 2+len(g.tx.pairs)/2)
			args = append(args, "hdel", k[0])
			for i := 0; i < len(g.tx.pairs); i += 2 {
				args = append(args, g.tx.pairs[i])
			}
			_ = p.Process(ctx, redis.NewIntCmd(ctx, args...))
		}
		if pe.rpushed {
			for _, el := range g.tx.elems {
				_ = p.Process(ctx, redis.NewIntCmd(ctx, "lrem", k[1], -1, el))
			}
		}
		return nil
	})
	if err != nil {
		q.log.Warn("dlr.put_not_undone", "system_id", g.sys, "receipts", len(g.tx.elems), "err", err)
	}
}

// elemMillis reads the 13-digit unix ms at off in a fresh-list element.
func elemMillis(el string, off int) (int64, bool) {
	if len(el) < off+13 {
		return 0, false
	}
	v, err := strconv.ParseInt(el[off:off+13], 10, 64)
	return v, err == nil
}

// reorder moves g's late elements from the fresh list to the due and exp
// sets (reorderLua). A failure leaves them in the list, claimed late but
// not lost: it is logged, not returned to the puts.
func (q *RedisQueue) reorder(ctx context.Context, g *putGroup, late []any) {
	k := q.accountKeys(g.sys)
	n, err := q.s.reorder.Run(ctx, q.c, []string{k[1], k[2], k[3], k[0]}, late...).Int()
	if err != nil {
		q.log.Warn("dlr.put_not_reordered", "system_id", g.sys, "receipts", len(late), "err", err)
		return
	}
	q.log.Debug("dlr.put_reordered", "system_id", g.sys, "receipts", len(late), "moved", n)
}
