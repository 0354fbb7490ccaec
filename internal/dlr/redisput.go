package dlr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// putBatchMax bounds the receipts one group commit carries.
const putBatchMax = 512

// maxCommitters bounds the group commits in flight at once. A committer
// that takes a batch starts a second one, which takes what is already
// waiting (more than putBatchMax, or Puts that came in meanwhile) and ends
// when it finds nothing: under a steady load one commit is in flight and
// the Puts of its round trip wait for the next. Starting committers
// whenever all are busy cut that wait but lengthened the round trip by as
// much, Redis and the two cores being the bound (BENCHMARKS.md, "What
// bounds it").
const maxCommitters = 2

// ErrNotReplicated is the error of a Put whose group commit did not reach
// REDIS_WAIT_REPLICAS replicas within REDIS_WAIT_TIMEOUT_MS. The receipt
// is on the master but may not survive its failover.
var ErrNotReplicated = errors.New("dlr: not acknowledged by enough replicas")

// AsyncQueue is a Queue that can store a receipt without holding the
// caller: done is called exactly once, from another goroutine or before
// PutAsync returns, with what Put would have returned. done must not
// block for long: it runs on the committer.
type AsyncQueue interface {
	Queue
	PutAsync(r Receipt, done func(error))
}

// groupCommit lets concurrent Puts share one pipeline (one round trip for
// many receipts, one script or, on a single server or Sentinel, one
// transaction per account). A Put that finds no committer starts a
// goroutine that writes batches until nothing is waiting and then ends
// (see maxCommitters for the second one), so an idle queue holds no
// goroutine and a busy one at most maxCommitters.
type groupCommit struct {
	mu         sync.Mutex
	waiting    []putReq
	records    int // kindFinished requests in waiting
	committers int
	committing int // requests taken by committers and not finished yet
	// hung is set while the last commit ran out of time: Redis is taken
	// to be hung, and a commit then ends CommitTimeout after its oldest
	// receipt was queued (see commitDeadline). On a Cluster, hungNodes
	// holds that per master instead (by address), so that a batch of a
	// hung master's accounts alone (the outage buffer trying them again)
	// does not cut short the next batch of the healthy masters' ones.
	hung      atomic.Bool
	hungMu    sync.Mutex
	hungNodes map[string]bool
	// lanes holds, by master address, the groups waiting for the lane of
	// a Cluster master that is hung or slow (see lane.go): a key is
	// present while the lane's goroutine runs, one per master at most.
	lanes map[string]*lane
}

// nodeHung reports whether the last pipeline to the master at addr ran out
// of time having stored nothing.
func (g *groupCommit) nodeHung(addr string) bool {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	return g.hungNodes[addr]
}

// setNodeHung records how the last pipeline to the master at addr ended.
func (g *groupCommit) setNodeHung(addr string, hung bool) {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	if !hung {
		delete(g.hungNodes, addr)
		return
	}
	if g.hungNodes == nil {
		g.hungNodes = make(map[string]bool, 1)
	}
	g.hungNodes[addr] = true
}

// backlog is how many requests wait for Redis, in waiting or in a
// commit (dlr_commit_backlog).
func (g *groupCommit) backlog() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.waiting) + g.committing
}

// maxWaitingRecords bounds the outcomes of receipt-less messages
// (DLR_MODE=requested) waiting for a group commit. Nobody waits for them,
// so unlike receipts (each holding a submit_sm_resp, bounded by the
// windows) they could pile up while Redis is slow; past the bound a record
// is refused, which costs only the answer to a later query_sm.
const maxWaitingRecords = 65_536

// ErrRecordBacklog refuses an outcome record while maxWaitingRecords wait.
var ErrRecordBacklog = errors.New("dlr: too many outcome records waiting for Redis")

type putKind uint8

const (
	kindPut      putKind = iota // a new receipt
	kindRestore                 // from the outage buffer: skipped if finished
	kindFinished                // no receipt wanted: only its outcome is remembered
)

type putReq struct {
	kind putKind
	r    Receipt
	o    Outcome // kindFinished
	h    putHooks
	at   time.Time // when it was queued: its commit ends CommitTimeout after
}

// putHooks is what happens with a put's result on the committer. The
// layers above the queue (the outage buffer, the dispatcher) hand their
// part over as values rather than wrapping done in closures: a closure
// holding a copy of the receipt cost an allocation per layer and receipt
// on the accept path.
type putHooks struct {
	done func(error)
	// fallback, when set, buffers a receipt whose put failed; its result
	// replaces the error.
	fallback *BufferedQueue
	// after, when set, sees the result (after fallback) and may replace it.
	after putHook
}

// putHook is told a put's result before done is called.
type putHook interface {
	afterPut(r *Receipt, err error) error
}

// hookedPutter is an AsyncQueue that runs putHooks itself.
type hookedPutter interface {
	putHooked(r Receipt, h putHooks)
}

// finishPut is h.finish for a put that never reached the committer; r is
// a parameter here so that only this path moves a receipt to the heap.
func finishPut(h putHooks, r Receipt, err error) { h.finish(&r, err) }

// finish applies the hooks to err and calls done.
func (h *putHooks) finish(r *Receipt, err error) {
	if err != nil && h.fallback != nil {
		err = h.fallback.fallback(*r, err)
	}
	if h.after != nil {
		err = h.after.afterPut(r, err)
	}
	h.done(err)
}

// RecordAsync remembers o as the outcome of r (an accepted message that
// asked for no receipt) with the next group commit, so that query_sm can
// answer it; done gets the result.
func (q *RedisQueue) RecordAsync(o Outcome, r Receipt, done func(error)) {
	if err := validate(r); err != nil {
		done(err)
		return
	}
	g := &q.put
	g.mu.Lock()
	full := g.records >= maxWaitingRecords
	g.mu.Unlock()
	if full {
		done(ErrRecordBacklog)
		return
	}
	q.enqueue(putReq{kind: kindFinished, r: r, o: o, h: putHooks{done: done}})
}

var (
	_ AsyncQueue   = (*RedisQueue)(nil)
	_ hookedPutter = (*RedisQueue)(nil)
)

// Put stores r and waits for its group commit.
func (q *RedisQueue) Put(ctx context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	ch := make(chan error, 1)
	q.enqueue(putReq{kind: kindPut, r: r, h: putHooks{done: func(err error) { ch <- err }}})
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return redisErr("put", ctx.Err())
	}
}

// PutAsync stores r with the next group commit and calls done with its
// outcome (after WAIT, when configured).
func (q *RedisQueue) PutAsync(r Receipt, done func(error)) {
	q.putHooked(r, putHooks{done: done})
}

// putHooked is PutAsync running h on the committer.
func (q *RedisQueue) putHooked(r Receipt, h putHooks) {
	if err := validate(r); err != nil {
		finishPut(h, r, err)
		return
	}
	q.enqueue(putReq{kind: kindPut, r: r, h: h})
}

// Restore stores receipts taken back from an outage buffer, skipping those
// whose outcome Redis remembers (a Put that timed out may have reached
// Redis and the receipt been delivered since). It returns one error per
// receipt: errFinishedInQueue for one skipped as finished.
func (q *RedisQueue) Restore(ctx context.Context, rs []Receipt) []error {
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	wg.Add(len(rs))
	for i := range rs {
		q.enqueue(putReq{kind: kindRestore, r: rs[i], h: putHooks{done: func(err error) { errs[i] = err; wg.Done() }}})
	}
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
		return errs
	case <-ctx.Done():
		<-ch // the commit is bounded by CommitTimeout
		return errs
	}
}

func (q *RedisQueue) enqueue(req putReq) {
	g := &q.put
	g.mu.Lock()
	req.at = time.Now() // under the lock: waiting stays in queueing order
	g.waiting = append(g.waiting, req)
	if req.kind == kindFinished {
		g.records++
	}
	start := g.committers == 0
	if start {
		g.committers++
	}
	g.mu.Unlock()
	if start {
		go q.commitAll()
	}
}

// commitAll writes batches until no Put is waiting.
func (q *RedisQueue) commitAll() {
	g := &q.put
	var batch []putReq
	for {
		g.mu.Lock()
		n := min(len(g.waiting), putBatchMax)
		if n == 0 {
			g.committers--
			if cap(batch) > cap(g.waiting) {
				g.waiting = batch[:0] // cleared: keeps its room for the next Puts
			}
			g.mu.Unlock()
			return
		}
		if n == len(g.waiting) {
			// Take the whole slice and leave this committer's old one
			// (empty) for the next Puts: no copy of the requests.
			batch, g.waiting = g.waiting, batch[:0]
		} else {
			batch = append(batch[:0], g.waiting[:n]...)
			rest := copy(g.waiting, g.waiting[n:])
			clear(g.waiting[rest:])
			g.waiting = g.waiting[:rest]
		}
		for i := range batch {
			if batch[i].kind == kindFinished {
				g.records--
			}
		}
		g.committing += len(batch)
		// What waits beyond this batch, or arrives before the helper
		// looks, goes out with a second committer.
		helper := g.committers < maxCommitters
		if helper {
			g.committers++
		}
		g.mu.Unlock()
		if helper {
			go q.commitAll()
		}
		// A batch carries many callers' receipts: no one caller's
		// cancellation aborts it; commitDeadline bounds it.
		ctx, cancel := context.WithDeadline(context.Background(), q.commitDeadline(batch[0].at))
		kept := q.commit(ctx, batch)
		cancel()
		if kept {
			// A lane, or a master's share left to run, still works on
			// requests of this batch: it is left to them, and the next
			// batch gets a slice of its own.
			batch = nil
			continue
		}
		clear(batch)
	}
}

// commitDeadline is when a commit whose oldest receipt was queued at
// oldest ends: CommitTimeout from now, or while Redis is taken to be hung
// (the last commit stored nothing by its deadline) CommitTimeout from
// oldest. Receipts
// that queued while the committers waited for a hung Redis would
// otherwise wait out a second timeout before going to the outage buffer
// (a submit held twice REDIS_TIMEOUT_SECONDS), while a Redis that is
// slow but answers each commit in time must not fail the receipts that
// queued behind the commit before (they would wait for it, then have
// only what is left).
func (q *RedisQueue) commitDeadline(oldest time.Time) time.Time {
	if q.put.hung.Load() {
		return oldest.Add(q.o.CommitTimeout)
	}
	return time.Now().Add(q.o.CommitTimeout)
}

// putGroup is the receipts of one account and kind in a batch: one script.
type putGroup struct {
	sys    string
	kind   putKind
	script *redis.Script
	reqs   []*putReq // of each receipt, in batch order
	items  []putItem // put and restore: the receipts, until putArgs
	// put and restore: the items' elements and bodies, one after the
	// other (a Builder: its String needs no copy), built in scratch.
	text    strings.Builder
	scratch []byte
	keys    []string
	args    []any
	cmd     *redis.Cmd
	// tx: the put is a transaction of plain commands (putTx) instead of
	// the script; txArgs are its RPUSH and HSET arguments, one after the
	// other (txSplit: where the HSET starts), exec its EXEC.
	tx      bool
	txArgs  []any
	txSplit int
	exec    *redis.SliceCmd
	queued  *redis.StatusCmd // the RPUSH's QUEUED, or why Redis refused it (OOM)
	res     []any            // the script's reply {stored, epoch, lost, count sequence, put number[, finished]}
	err     error
	// finished: a restore's receipts Redis remembers as finished, which
	// it skipped; commitGroups answers them done even when WAIT failed.
	finished map[string]struct{}
	count    int      // receipts the script stored
	check    seqCheck // what the reply's count number is judged against (checkSeqLocked)
	// all and kept: the text and items putArgs consumed, for the replay
	// journal (replay.go).
	all  string
	kept []putItem
}

// commit writes batch. On a single server or Sentinel it records whether
// Redis is taken to be hung: the commit stored nothing and ran out of
// time (see commitDeadline). On a Cluster pipelineNode keeps that per
// master, each master's groups are written and answered on their own, at
// once (commitNodes), and those of a master that is hung or slow go to
// its lane (lane.go); kept then says that requests of batch are still in
// use after commit returns.
func (q *RedisQueue) commit(ctx context.Context, batch []putReq) (kept bool) {
	groups := q.groupBatch(batch)
	cc, cluster := q.c.(*redis.ClusterClient)
	if !cluster {
		stored, timedOut := q.commitGroups(ctx, groups, func(gs []*putGroup, byHash bool) { q.pipelineGroups(ctx, q.c, gs, byHash) })
		q.put.hung.Store(!stored && timedOut)
		return false
	}
	byNode := groupsByNode(ctx, cc, groups)
	for node, gs := range byNode {
		if node == nil {
			continue
		}
		queued, start := q.put.toLane(node.Options().Addr, gs)
		if !queued {
			continue
		}
		delete(byNode, node)
		kept = true
		if start {
			go q.runLane(cc, node)
		}
	}
	if gs, ok := byNode[nil]; ok { // failed already: answered at once
		delete(byNode, nil)
		q.commitNode(ctx, cc, nil, gs)
	}
	if len(byNode) == 0 {
		return kept
	}
	return q.commitNodes(ctx, cc, byNode) || kept
}

// commitGroups writes groups with run (by hash, then by text where Redis
// answered NOSCRIPT), records what Redis answered and tells the callers.
// It reports whether any group was stored and whether any failed by
// running out of time.
func (q *RedisQueue) commitGroups(ctx context.Context, groups []*putGroup, run func(gs []*putGroup, byHash bool)) (stored, timedOut bool) {
	// By hash first (40 octets instead of the text). A node without the
	// script answers NOSCRIPT for its groups only, which are sent again
	// with the text; EVAL caches it there for the next batch. No SCRIPT
	// LOAD here: on a Cluster it goes to every node, and one dead node
	// would spend the healthy accounts' commit time.
	run(groups, true)
	if again := noScriptGroups(groups); len(again) > 0 {
		for _, g := range again {
			g.cmd, g.err = nil, nil
		}
		run(again, false)
	}
	q.recordGroups(groups)
	// Before the answers: an account is in Paccounts (the sweeps' list)
	// by the time its first receipt is acknowledged, unless the key's
	// master is slow (listAccounts). Only new accounts cost this round
	// trip.
	q.listAccounts(ctx, groups)
	// Answered by Redis (or failed): out of dlr_commit_backlog before the
	// callers hear of it.
	n := 0
	for _, g := range groups {
		n += len(g.reqs)
	}
	q.put.mu.Lock()
	q.put.committing -= n
	q.put.mu.Unlock()
	for _, g := range groups {
		err := g.err
		if err != nil {
			timedOut = timedOut || isTimeout(err)
			err = redisErr("put", err)
		} else {
			stored = true
		}
		for _, req := range g.reqs {
			if _, done := g.finished[req.r.MessageID]; done {
				req.h.finish(&req.r, errFinishedInQueue)
				continue
			}
			req.h.finish(&req.r, err)
		}
	}
	return stored, timedOut
}

// finishedIDs reads the ids a restore skipped as finished from the put
// script's reply (its sixth value; nil when there is none).
func finishedIDs(res []any) map[string]struct{} {
	if len(res) < 6 {
		return nil
	}
	ids, _ := res[5].([]any)
	if len(ids) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(ids))
	for _, v := range ids {
		if id, ok := v.(string); ok {
			m[id] = struct{}{}
		}
	}
	return m
}

// groupsByNode sorts groups by the master of their slot; those whose
// master is not known (an error set on them) come under nil.
func groupsByNode(ctx context.Context, cc *redis.ClusterClient, groups []*putGroup) map[*redis.Client][]*putGroup {
	byNode := make(map[*redis.Client][]*putGroup)
	for _, g := range groups {
		node, err := cc.MasterForKey(ctx, g.keys[0])
		if err != nil {
			g.err = err
			node = nil
		}
		byNode[node] = append(byNode[node], g)
	}
	return byNode
}

// commitNode is commitGroups for the groups of one Cluster master (nil:
// the groups whose master is not known, failed already); pipelineNode
// records whether the master is taken to be hung. Each master's
// groups are answered as soon as that master has answered: the callers
// of a healthy master's accounts do not wait for one that hangs. Their
// pipeline goes to the master directly with WAIT (WAIT has no key to
// route by), otherwise through the Cluster client, which follows
// redirections. One pipeline for all masters would let a master that
// hangs fail every account's put: go-redis retries a node's failed
// commands, and when the context ends during that retry's wait it sets
// the error on every command of the pipeline, those other masters had
// answered included.
func (q *RedisQueue) commitNode(ctx context.Context, cc *redis.ClusterClient, node *redis.Client, gs []*putGroup) {
	var c redis.Cmdable = cc
	if q.o.WaitReplicas > 0 {
		c = node
	}
	q.commitGroups(ctx, gs, func(gs []*putGroup, byHash bool) {
		if node != nil {
			q.pipelineNode(ctx, node, c, gs, byHash)
		}
	})
}

// isTimeout reports whether err is a call running out of time: its
// context's deadline, or the read deadline the client set from it (which
// may fire a moment before the context's own timer).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (q *RedisQueue) groupBatch(batch []putReq) []*putGroup {
	type gk struct {
		sys  string
		kind putKind
	}
	idx := make(map[gk]*putGroup, 2)
	var groups []*putGroup
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for i := range batch {
		req := &batch[i]
		k := gk{req.r.SystemID, req.kind}
		g := idx[k]
		if g == nil && k.kind == kindFinished {
			keys := q.accountKeys(k.sys)
			bucket, until := q.doneBucket(k.sys, now)
			g = &putGroup{sys: k.sys, kind: k.kind, script: q.s.finish, keys: []string{keys[0], keys[2], keys[3], bucket, q.leaseKey(k.sys, q.o.InstanceID)},
				args: []any{finalValue(req.o), until}}
			idx[k] = g
			groups = append(groups, g)
		}
		if k.kind == kindFinished {
			g.args = append(g.args, req.r.MessageID)
			g.reqs = append(g.reqs, req)
			continue
		}
		if g == nil {
			keys := q.accountKeys(k.sys)
			g = &putGroup{sys: k.sys, kind: k.kind, script: q.s.put, keys: []string{keys[0], keys[1], q.epochKey(k.sys), keys[2], keys[3], q.countSeqKey(k.sys), q.ownPutsKey(k.sys)}}
			if k.kind == kindRestore {
				g.keys = append(g.keys, q.doneKeys(k.sys, now)...)
			}
			g.args = []any{q.epochs[k.sys], q.markerLocked(k.sys)}
			g.check = q.seqCheckLocked(k.sys)
			if len(groups) == 0 {
				// Often one account per batch: room for all of it at
				// once (other groups grow as they go).
				g.items = make([]putItem, 0, len(batch))
				g.reqs = make([]*putReq, 0, len(batch))
				g.text.Grow(len(batch) * (28 + len(req.r.MessageID) + req.r.encodedSizeHint()))
			}
			idx[k] = g
			groups = append(groups, g)
		}
		g.items = append(g.items, g.appendItem(&req.r))
		g.reqs = append(g.reqs, req)
	}
	for _, g := range groups {
		if g.kind != kindFinished {
			g.putArgs(q.plainPuts)
		}
	}
	return groups
}

// putItem is one receipt of a put group: where its fresh-list element
// ("due|exp|id") and its encoded body lie in the group's buf.
type putItem struct {
	el, id, body, end int32 // offsets: element, id within it, body, end
}

// appendItem appends r's fresh-list element, "due|exp|id" with both times
// as 13-digit unix ms (see putLua), and its encoding to g.text: one buffer
// for the group instead of two allocations per receipt.
func (g *putGroup) appendItem(r *Receipt) putItem {
	base := int32(g.text.Len())
	b := appendMillis(g.scratch[:0], r.DueAt)
	b = append(b, '|')
	if r.ExpiresAt.IsZero() {
		b = append(b, neverMillis...)
	} else {
		b = appendMillis(b, r.ExpiresAt)
	}
	b = append(b, '|')
	it := putItem{el: base, id: base + int32(len(b))}
	b = append(b, r.MessageID...)
	it.body = base + int32(len(b))
	b = r.appendBinary(b)
	it.end = base + int32(len(b))
	g.text.Write(b)
	g.scratch = b
	return it
}

// appendMillis appends t as the scripts' 13-digit unix milliseconds.
func appendMillis(b []byte, t time.Time) []byte {
	ms := max(scoreMillis(t), 0)
	for p := int64(1_000_000_000_000); p > 1 && ms < p; p /= 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, ms, 10)
}

// putArgs appends the put script's mode, count, elements and id/body
// pairs. The receipts are sorted by due and expiry time (stable: submit
// order among equal times; concurrent submits arrive a little out of
// order), and when that leaves both in order the script may append the
// whole batch with one command each (mode "o"). With plain set (a single
// server or Sentinel), such a batch is a transaction instead (putTx): the
// RPUSH and HSET arguments are built, not the script's.
func (g *putGroup) putArgs(plain bool) {
	all := g.text.String()
	times := func(it putItem) string { return all[it.el : it.el+27] } // "due|exp"
	mode := "r"
	if g.kind == kindPut {
		slices.SortStableFunc(g.items, func(a, b putItem) int { return strings.Compare(times(a), times(b)) })
		mode = "o"
		for i := 1; i < len(g.items); i++ {
			if times(g.items[i])[14:] < times(g.items[i-1])[14:] {
				mode = "p" // expiry out of due order: the script sorts it out
				break
			}
		}
	}
	// One string for the whole group, cut into the arguments, and passed
	// as *string: boxing a string or []byte in an interface allocates, a
	// pointer does not, and go-redis writes *string as the string.
	strs := make([]string, 3*len(g.items))
	n := len(g.items)
	for i, it := range g.items {
		strs[i] = all[it.el:it.body]
		strs[n+2*i] = all[it.id:it.body]
		strs[n+2*i+1] = all[it.body:it.end]
	}
	if plain && mode == "o" {
		g.tx = true
		g.txSplit = 2 + n
		g.txArgs = make([]any, 0, 4+len(strs))
		g.txArgs = append(g.txArgs, "rpush", g.keys[1])
		for i := range strs[:n] {
			g.txArgs = append(g.txArgs, &strs[i])
		}
		g.txArgs = append(g.txArgs, "hset", g.keys[0])
		for i := n; i < len(strs); i++ {
			g.txArgs = append(g.txArgs, &strs[i])
		}
		// The ids once more, in one argument, for putTailLua to undo the
		// HSET should the RPUSH fail.
		b := g.scratch[:0]
		for i := range n {
			id := strs[n+2*i]
			b = strconv.AppendInt(b, int64(len(id)), 10)
			b = append(b, ':')
			b = append(b, id...)
		}
		g.args = append(g.args, n, string(b))
	} else {
		g.args = slices.Grow(g.args, 2+len(strs))
		g.args = append(g.args, mode, len(g.items))
		for i := range strs {
			g.args = append(g.args, &strs[i])
		}
	}
	g.all, g.kept = all, g.items
	g.items, g.scratch = nil, nil
	g.text.Reset()
}

// pipelineNode is pipelineGroups for the groups of one Cluster master.
// While the master is taken to be hung (its last pipeline stored nothing
// by its deadline) its groups end CommitTimeout after the oldest of their
// receipts was queued, as commitDeadline does for a whole single server:
// they do not wait out a second timeout behind the first.
func (q *RedisQueue) pipelineNode(ctx context.Context, node *redis.Client, c redis.Cmdable, gs []*putGroup, byHash bool) {
	addr := node.Options().Addr
	if q.put.nodeHung(addr) {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, oldestQueued(gs).Add(q.o.CommitTimeout))
		defer cancel()
	}
	q.pipelineGroups(ctx, c, gs, byHash)
	stored, timedOut := false, false
	for _, g := range gs {
		if g.err == nil {
			stored = true
		} else if isTimeout(g.err) {
			timedOut = true
		}
	}
	q.put.setNodeHung(addr, !stored && timedOut)
}

// oldestQueued is when the oldest receipt of gs was queued.
func oldestQueued(gs []*putGroup) time.Time {
	var t time.Time
	for _, g := range gs {
		if len(g.reqs) > 0 && (t.IsZero() || g.reqs[0].at.Before(t)) {
			t = g.reqs[0].at
		}
	}
	return t
}

// pipelineGroups runs groups in one pipeline on c, ending with WAIT when
// configured (on a Cluster c is one master).
func (q *RedisQueue) pipelineGroups(ctx context.Context, c redis.Cmdable, groups []*putGroup, byHash bool) {
	var wait *redis.IntCmd
	promises := false // a receipt an ESME_ROK waits for, not only outcomes
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, g := range groups {
			if g.err != nil {
				continue // no master for its slot
			}
			promises = promises || g.kind != kindFinished
			if g.tx {
				q.putTx(ctx, p, g)
				continue
			}
			if byHash {
				g.cmd = g.script.EvalSha(ctx, p, g.keys, g.args...)
			} else {
				g.cmd = g.script.Eval(ctx, p, g.keys, g.args...)
			}
		}
		if q.o.WaitReplicas > 0 && promises {
			wait = redis.NewIntCmd(ctx, "wait", q.o.WaitReplicas, q.o.WaitTimeout.Milliseconds())
			_ = p.Process(ctx, wait)
		}
		return nil
	})
	var waitErr error
	if wait != nil {
		if n, werr := wait.Result(); werr != nil {
			waitErr = werr
		} else if int(n) < q.o.WaitReplicas {
			waitErr = fmt.Errorf("%w: %d of %d replicas within %v", ErrNotReplicated, n, q.o.WaitReplicas, q.o.WaitTimeout)
		}
	}
	for _, g := range groups {
		if g.tx && g.exec != nil {
			g.res, g.err = txPutResult(g.exec, g.queued)
			if g.err == nil && waitErr != nil {
				g.err = waitErr
			}
			if g.err == nil {
				n, _ := g.res[0].(int64)
				g.count = int(n)
			}
			continue
		}
		if g.cmd == nil {
			if g.err == nil {
				g.err = err
			}
			continue
		}
		if g.kind == kindFinished {
			if g.err = g.cmd.Err(); g.err == nil {
				g.err = waitErr
			}
			continue
		}
		res, cerr := g.cmd.Slice()
		switch {
		case cerr != nil:
			g.err = cerr
		case len(res) < 5:
			g.err = fmt.Errorf("put script returned %d values", len(res))
		case waitErr != nil:
			g.err = waitErr
		}
		if cerr == nil && len(res) >= 5 {
			g.res = res
			g.finished = finishedIDs(res)
		}
		if g.err == nil {
			n, _ := res[0].(int64)
			g.count = int(n)
		}
	}
}

// recordGroups keeps the epochs and counts the scripts reported, and
// counts a loss the scripts detected.
func (q *RedisQueue) recordGroups(groups []*putGroup) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	for _, g := range groups {
		res := g.res
		if g.kind == kindFinished || len(res) < 5 {
			continue
		}
		epoch, _ := res[1].(string)
		lost, _ := res[2].(int64)
		seq, _ := res[3].(int64)
		own, _ := res[4].(int64)
		// A group of receipts took a put number (a restore whose
		// receipts Redis all held took one too): the one it found says
		// where Redis is, also when WAIT then failed (a master just
		// promoted, no replica yet: the first sign that it lacks puts
		// the old one acknowledged).
		took := len(g.kept) > 0
		if took {
			q.checkSeqLocked(g.sys, epoch, lost == 1, own-1, g.check)
		}
		q.epochSeenLocked(g.sys, epoch, lost == 1)
		sh := q.shareLocked(g.sys)
		sh.wrote(seq, g.count, now)
		if g.count > 0 {
			sh.putNumber(own, now)
		}
		q.journalLocked(g, own, now) // after the check: it is in the history Redis has now
		if took {
			q.checkTakenTwiceLocked(g.sys, epoch, lost == 1, own, g.err == nil, g.check)
		}
	}
}

// listAccounts adds accounts new to this process to Paccounts. It is
// best effort (the key may live on another shard): a failure is retried
// with the next batch and stops nothing. It waits for the addition at
// most laneAfter (REDIS_SLOW_MS) and leaves a slower one to finish on its
// own (listInBackground, one at a time): on a Cluster the key's master
// may hang while the accounts' masters answer, and their submits must
// not wait for it.
func (q *RedisQueue) listAccounts(ctx context.Context, groups []*putGroup) {
	q.mu.Lock()
	for _, g := range groups {
		// A receipt's account also after a failure (the sweep must see
		// it); an outcome record's once stored (the admin API finds a
		// removed account's messages by the accounts listed).
		if (g.kind != kindFinished || g.err == nil) && !q.listed[g.sys] {
			q.unlisted[g.sys] = struct{}{}
		}
	}
	if len(q.unlisted) == 0 {
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	wait := time.NewTimer(q.laneAfter())
	defer wait.Stop()
	for {
		q.mu.Lock()
		if len(q.unlisted) == 0 || time.Now().Before(q.listRetry) { // its shard failed lately: do not hold answers on it
			q.mu.Unlock()
			return
		}
		done := q.listing
		if done == nil {
			done = make(chan struct{})
			q.listing = done
			add := make([]any, 0, len(q.unlisted))
			for sys := range q.unlisted {
				add = append(add, sys)
			}
			go q.listInBackground(add, done)
		}
		q.mu.Unlock()
		select {
		case <-done: // then what queued since, if any
		case <-ctx.Done():
			return
		case <-wait.C:
			return
		}
	}
}

// listInBackground adds add to Paccounts within CommitTimeout and closes
// done.
func (q *RedisQueue) listInBackground(add []any, done chan struct{}) {
	ctx, cancel := q.callCtx(context.Background())
	err := q.c.SAdd(ctx, q.accountsKey(), add...).Err()
	cancel()
	if err != nil {
		q.listLog.Failed(context.Background(), "", err)
	} else {
		q.listLog.Succeeded(context.Background(), "")
	}
	q.mu.Lock()
	if err != nil {
		q.listRetry = time.Now().Add(listRetryAfter)
	} else {
		for _, a := range add {
			q.listed[a.(string)] = true
			delete(q.unlisted, a.(string))
		}
	}
	q.listing = nil
	q.mu.Unlock()
	close(done)
}

func isNoScript(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") }

func noScriptGroups(groups []*putGroup) []*putGroup {
	var out []*putGroup
	for _, g := range groups {
		if isNoScript(g.err) {
			out = append(out, g)
		}
	}
	return out
}

// putTx queues g, a put in due and expiry order, as one transaction of
// plain commands: RPUSH of the fresh-list elements, HSET of the bodies,
// then putTailLua (by its text: EVAL finds it in the script cache by its
// hash, and a transaction never meets NOSCRIPT half way). Every key is
// the account's, and nothing runs between the commands: stored whole or,
// when Redis refuses the transaction (EXECABORT, e.g. above maxmemory),
// not at all. The elements and bodies reach the list and the hash as they
// do with any plain command, where the script would convert each to a Lua
// string and back: most of what a put cost Redis.
func (q *RedisQueue) putTx(ctx context.Context, p redis.Pipeliner, g *putGroup) {
	_ = p.Process(ctx, redis.NewStatusCmd(ctx, "multi"))
	g.queued = redis.NewStatusCmd(ctx, g.txArgs[:g.txSplit]...)
	_ = p.Process(ctx, g.queued)
	_ = p.Process(ctx, redis.NewStatusCmd(ctx, g.txArgs[g.txSplit:]...))
	a := make([]any, 0, 3+7+len(g.args))
	a = append(a, "eval", putTailLua, 7, g.keys[1], g.keys[2], g.keys[3], g.keys[4], g.keys[0], g.keys[5], g.keys[6])
	_ = p.Process(ctx, redis.NewStatusCmd(ctx, append(a, g.args...)...))
	g.exec = redis.NewSliceCmd(ctx, "exec")
	_ = p.Process(ctx, g.exec)
}

// txPutResult reads putTx's EXEC reply: the RPUSH's and HSET's counts and
// the script's {n, epoch, lost, count number}, any of which may be an
// error. When Redis refused the transaction (EXECABORT) the error also
// says why it refused the first command (such as OOM), which EXEC's own
// reply does not.
func txPutResult(exec *redis.SliceCmd, queued *redis.StatusCmd) ([]any, error) {
	v, err := exec.Result()
	if err != nil {
		if qerr := queued.Err(); qerr != nil && qerr != err && refusedByServer(err) {
			return nil, fmt.Errorf("%w (%v)", err, qerr)
		}
		return nil, err
	}
	if len(v) != 3 {
		return nil, fmt.Errorf("put transaction returned %d replies", len(v))
	}
	for _, r := range v {
		if e, ok := r.(error); ok {
			return nil, e
		}
	}
	res, _ := v[2].([]any)
	if len(res) != 5 {
		return nil, fmt.Errorf("put script returned %d values", len(res))
	}
	return res, nil
}
