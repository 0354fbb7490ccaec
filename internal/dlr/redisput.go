package dlr

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// putBatchMax bounds the receipts one pipeline carries.
const putBatchMax = 512

// putTimeout bounds one group commit, whoever's context started it.
const putTimeout = 2 * time.Second

// groupCommit lets concurrent Puts share one pipeline (one round trip for
// many receipts). The first Put that finds no committer starts one
// goroutine that writes batches until nothing is waiting and then ends, so
// an idle queue holds no goroutine and a busy one holds exactly one; every
// Put waits for its own result.
type groupCommit struct {
	mu      sync.Mutex
	waiting []*putReq
	leading bool
	// byHash: Redis has the put script cached, so batches send its hash
	// (EVALSHA) instead of its text. Only the committer goroutine uses it.
	byHash bool
}

type putReq struct {
	r    Receipt
	done chan error // buffered: the leader never blocks on it
}

// Put stores r: for each receipt the account's part atomically (one
// script), then the id index; the account set is refreshed once per batch
// and account. Concurrent Puts go out together in one pipeline.
func (q *RedisQueue) Put(ctx context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	req := &putReq{r: r, done: make(chan error, 1)}
	g := &q.put
	g.mu.Lock()
	g.waiting = append(g.waiting, req)
	start := !g.leading
	g.leading = true
	g.mu.Unlock()
	if start {
		go q.commitAll()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return redisErr("put", ctx.Err())
	}
}

// commitAll writes batches until no Put is waiting.
func (q *RedisQueue) commitAll() {
	g := &q.put
	for {
		g.mu.Lock()
		n := min(len(g.waiting), putBatchMax)
		if n == 0 {
			g.leading = false
			g.mu.Unlock()
			return
		}
		batch := make([]*putReq, n)
		copy(batch, g.waiting)
		g.waiting = append(g.waiting[:0], g.waiting[n:]...)
		g.mu.Unlock()
		// A batch carries many callers' receipts: no one caller's
		// cancellation aborts it; putTimeout bounds it.
		cctx, cancel := context.WithTimeout(context.Background(), putTimeout)
		q.commit(cctx, batch)
		cancel()
	}
}

func (q *RedisQueue) commit(ctx context.Context, batch []*putReq) {
	if !q.put.byHash {
		// Loading the script (on every node of a Cluster) lets batches send
		// 40 octets instead of its text, which Redis would hash each time.
		q.put.byHash = q.s.put.Load(ctx, q.c).Err() == nil
	}
	cmds, err := q.pipelinePuts(ctx, batch, q.put.byHash)
	if q.put.byHash && noScript(cmds) {
		// Redis restarted or flushed its script cache: send the text.
		q.put.byHash = false
		cmds, err = q.pipelinePuts(ctx, batch, false)
	}
	for i, req := range batch {
		// Each receipt gets its own commands' outcome; a failed round trip
		// marks every command of the batch.
		e := err
		if len(cmds) == 2*len(batch) {
			e = firstErr(cmds[2*i], cmds[2*i+1])
		}
		if e != nil {
			e = redisErr("put", e)
		}
		req.done <- e
	}
}

func (q *RedisQueue) pipelinePuts(ctx context.Context, batch []*putReq, byHash bool) ([]redis.Cmder, error) {
	accounts := make(map[string]struct{}, 1)
	cmds := make([]redis.Cmder, 0, 2*len(batch))
	_, err := q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, req := range batch {
			r := req.r
			body, _ := r.MarshalBinary()
			idTTL := time.Duration(0) // no expiry without ExpiresAt
			exp := ""
			if !r.ExpiresAt.IsZero() {
				idTTL = max(time.Until(r.ExpiresAt), 0) + q.remember
				exp = strconv.FormatInt(scoreMillis(r.ExpiresAt), 10)
			}
			keys, args := q.accountKeys(r.SystemID), []any{r.MessageID, body, scoreMillis(r.DueAt), exp}
			var store redis.Cmder
			if byHash {
				store = q.s.put.EvalSha(ctx, p, keys, args...)
			} else {
				store = q.s.put.Eval(ctx, p, keys, args...)
			}
			cmds = append(cmds, store, p.Set(ctx, q.idKey(r.MessageID), pendingValue(r.SystemID), idTTL))
			accounts[r.SystemID] = struct{}{}
		}
		for sys := range accounts {
			p.SAdd(ctx, q.accountsKey(), sys)
		}
		return nil
	})
	return cmds, err
}

func noScript(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if err := c.Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			return true
		}
	}
	return false
}

func firstErr(cmds ...redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return err
		}
	}
	return nil
}
