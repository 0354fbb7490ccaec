package dlr

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Lanes: on a Cluster, the group commits of a master that hangs or is
// slow do not hold the committers.
//
// A committer writes each master's share of its batch on a goroutine of
// its own (commitNodes) and waits for them at most laneAfter. A share
// still unanswered then is left to run, and its master gets a lane: the
// groups of the next batches for that master are queued there instead
// of being written by the committers, and the goroutine of the share
// left behind, once answered, writes what queued meanwhile (oldest
// first, up to putBatchMax receipts per pipeline, one pipeline after
// another). A master taken to be hung (its last pipeline stored nothing
// in time) gets a lane at its next batch. A lane pipeline answered
// within laneAfter, the master not hung, closes the lane: it takes no
// more groups, writes what it holds and ends, and the committers write
// to the master again.
//
// So a master that does not answer holds no committer: only the shares
// left to run (one per committer at most while it hangs; their
// pipelines end by their deadlines) and its lane, and the committers go
// on with the healthy masters' receipts within laneAfter of a master
// starting to hang, not REDIS_TIMEOUT_SECONDS later: both committers
// held by the first batches that held a hung master, and every put
// queued behind them, stalled the healthy masters' submits for that
// long. What fails goes to the outage buffer like any failed put. The
// requests of a batch whose share went to a lane, or was left to run,
// stay in use after commit returns (kept): the committer then leaves
// that batch to them and takes a new slice for its next one.

// laneAfter is how long a committer waits for a master's share of a batch
// before leaving it to run and giving the master a lane: SlowAfter (at
// most a quarter of CommitTimeout). A master that answers does so within
// a few milliseconds, even under load; one that needs more is hung, or
// slow enough that its receipts are better written together, one
// pipeline after another.
func (q *RedisQueue) laneAfter() time.Duration { return min(q.o.SlowAfter, q.o.CommitTimeout/4) }

// lane is what one master's lane holds, under groupCommit.hungMu; it is
// in groupCommit.lanes while its goroutine runs.
type lane struct {
	queued []*putGroup
	// closing: the lane's last pipeline was answered within laneAfter,
	// the master not hung; it takes no more groups (the committers write
	// to the master again) and ends once it has written what it holds.
	closing bool
}

// toLane queues gs, groups of the master at addr, in its lane if it has
// one that is not closing (or the master is hung: the lane takes groups
// again), or in a new lane if the master is taken to be hung; start says
// the lane is new and the caller must run it (runLane).
func (g *groupCommit) toLane(addr string, gs []*putGroup) (queued, start bool) {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	hung := g.hungNodes[addr]
	if l := g.lanes[addr]; l != nil {
		if l.closing && !hung {
			return false, false
		}
		l.closing = false
		l.queued = append(l.queued, gs...)
		return true, false
	}
	if !hung {
		return false, false
	}
	g.openLaneLocked(addr, append([]*putGroup(nil), gs...))
	return true, true
}

// openLane gives the master at addr a lane with nothing queued yet,
// unless it has one (which then takes groups again, if it was closing),
// and reports whether it did: the caller then runs it.
func (g *groupCommit) openLane(addr string) bool {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	if l := g.lanes[addr]; l != nil {
		l.closing = false
		return false
	}
	g.openLaneLocked(addr, nil)
	return true
}

func (g *groupCommit) openLaneLocked(addr string, gs []*putGroup) {
	if g.lanes == nil {
		g.lanes = make(map[string]*lane, 1)
	}
	g.lanes[addr] = &lane{queued: gs}
}

// closeLane marks the lane of the master at addr closing (see lane).
func (g *groupCommit) closeLane(addr string) {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	if l := g.lanes[addr]; l != nil {
		l.closing = true
	}
}

// nextInLane takes what is queued in the lane of the master at addr, the
// oldest groups up to putBatchMax receipts (one group at least, however
// large), as a committer takes a batch; when nothing is queued, the lane
// ends and it returns nil.
func (g *groupCommit) nextInLane(addr string) []*putGroup {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	l := g.lanes[addr]
	if l == nil || len(l.queued) == 0 {
		delete(g.lanes, addr)
		return nil
	}
	gs := l.queued
	n, i := 0, 0
	for i < len(gs) && (i == 0 || n+len(gs[i].reqs) <= putBatchMax) {
		n += len(gs[i].reqs)
		i++
	}
	l.queued = nil
	if i < len(gs) {
		// A slice of its own: the groups taken (and the batches they
		// point into) are not kept alive by the rest.
		l.queued = append([]*putGroup(nil), gs[i:]...)
	}
	return gs[:i:i]
}

// laneCount is how many masters have a lane (dlr_commit_lanes).
func (g *groupCommit) laneCount() int {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	return len(g.lanes)
}

// runLane writes what the lane of node queues until it is empty. Each
// pipeline has CommitTimeout from when it starts, or, while the master is
// taken to be hung, from its oldest receipt (pipelineNode), as a
// committer's commit does. One answered within laneAfter, the master not
// hung, closes the lane: the committers write to the master again.
func (q *RedisQueue) runLane(cc *redis.ClusterClient, node *redis.Client) {
	addr := node.Options().Addr
	for {
		gs := q.put.nextInLane(addr)
		if gs == nil {
			return
		}
		began := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), q.o.CommitTimeout)
		q.commitNode(ctx, cc, node, gs)
		cancel()
		if time.Since(began) < q.laneAfter() && !q.put.nodeHung(addr) {
			q.put.closeLane(addr)
		}
	}
}

// nodeRun is one master's share of a batch, written on a goroutine of its
// own (runNode).
type nodeRun struct {
	node *redis.Client
	gs   []*putGroup

	mu       sync.Mutex
	finished bool // answered
	drains   bool // left by the committer: it runs its master's lane once answered
}

// commitNodes writes each master's share of a batch at once and waits for
// them, at most laneAfter: a share unanswered by then is left to run as
// its master's lane (kept).
func (q *RedisQueue) commitNodes(ctx context.Context, cc *redis.ClusterClient, byNode map[*redis.Client][]*putGroup) (kept bool) {
	dl, _ := ctx.Deadline()
	done := make(chan *nodeRun, len(byNode))
	runs := make([]*nodeRun, 0, len(byNode))
	for node, gs := range byNode {
		r := &nodeRun{node: node, gs: gs}
		runs = append(runs, r)
		go q.runNode(cc, r, dl, done)
	}
	wait := time.NewTimer(q.laneAfter())
	defer wait.Stop()
	for range runs {
		select {
		case <-done:
		case <-wait.C:
			for _, r := range runs {
				kept = q.leave(r) || kept
			}
			return kept
		}
	}
	return false
}

// runNode writes r by dl (the committer's deadline, not its context: the
// committer may stop waiting and cancel that) and, when the committer
// left it to run its master's lane, runs the lane.
func (q *RedisQueue) runNode(cc *redis.ClusterClient, r *nodeRun, dl time.Time, done chan<- *nodeRun) {
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	q.commitNode(ctx, cc, r.node, r.gs)
	cancel()
	r.mu.Lock()
	r.finished = true
	drains := r.drains
	r.mu.Unlock()
	done <- r // buffered for every run: never blocks
	if drains {
		q.runLane(cc, r.node)
	}
}

// leave stops the committer's wait for r unless r is answered, opening
// its master's lane for r to run unless another run does: it reports
// whether r still uses the batch.
func (q *RedisQueue) leave(r *nodeRun) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return false
	}
	r.drains = q.put.openLane(r.node.Options().Addr)
	return true
}
