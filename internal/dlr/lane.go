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
// first, up to putBatchMax receipts per pipeline), until nothing is
// queued; then the lane ends and the committers write to the master
// again. A master taken to be hung (its last pipeline stored nothing in
// time) gets a lane at its next batch. So a master that does not answer
// holds at most maxCommitters shares left to run (one of them running the
// lane) and no committer, and the committers go on with the healthy
// masters' receipts within laneAfter of a master starting to hang, not
// REDIS_TIMEOUT_SECONDS later: both committers held by the first batches
// that held a hung master, and every put queued behind them, stalled the
// healthy masters' submits for that long.
//
// A lane's pipeline ends CommitTimeout after its oldest receipt was
// queued (a receipt does not wait for the lane and then a whole timeout
// more); what fails goes to the outage buffer like any failed put. The
// requests of a batch whose share went to a lane stay in use after
// commit returns (kept): the committer then leaves that batch to them.

// laneAfter is how long a committer waits for a master's share of a batch
// before leaving it to run as the master's lane (at most a quarter of
// CommitTimeout). A master that answers does so within a few
// milliseconds, even under load; one that needs more is hung, or slow
// enough that its receipts are better written together, one pipeline at
// a time.
const laneAfter = 50 * time.Millisecond

func (q *RedisQueue) laneAfter() time.Duration { return min(laneAfter, q.o.CommitTimeout/4) }

// toLane queues gs, groups of the master at addr, in its lane if it has
// one, or in a new one if the master is taken to be hung; start says the
// lane is new and the caller must run it (runLane).
func (g *groupCommit) toLane(addr string, gs []*putGroup) (queued, start bool) {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	if waiting, ok := g.lanes[addr]; ok {
		g.lanes[addr] = append(waiting, gs...)
		return true, false
	}
	if !g.hungNodes[addr] {
		return false, false
	}
	g.openLaneLocked(addr, append([]*putGroup(nil), gs...))
	return true, true
}

// openLane gives the master at addr a lane with nothing queued yet,
// unless it has one, and reports whether it did: the caller then runs it.
func (g *groupCommit) openLane(addr string) bool {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	if _, ok := g.lanes[addr]; ok {
		return false
	}
	g.openLaneLocked(addr, nil)
	return true
}

func (g *groupCommit) openLaneLocked(addr string, gs []*putGroup) {
	if g.lanes == nil {
		g.lanes = make(map[string][]*putGroup, 1)
	}
	g.lanes[addr] = gs
}

// nextInLane takes what is queued in the lane of the master at addr, the
// oldest groups up to putBatchMax receipts (one group at least, however
// large), as a committer takes a batch; when nothing is queued, the lane
// ends and it returns nil.
func (g *groupCommit) nextInLane(addr string) []*putGroup {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	gs := g.lanes[addr]
	if len(gs) == 0 {
		delete(g.lanes, addr)
		return nil
	}
	n, i := 0, 0
	for i < len(gs) && (i == 0 || n+len(gs[i].reqs) <= putBatchMax) {
		n += len(gs[i].reqs)
		i++
	}
	if i == len(gs) {
		g.lanes[addr] = nil
	} else {
		g.lanes[addr] = gs[i:]
	}
	return gs[:i:i]
}

// lanes is how many masters have a lane (tests).
func (g *groupCommit) laneCount() int {
	g.hungMu.Lock()
	defer g.hungMu.Unlock()
	return len(g.lanes)
}

// runLane writes what the lane of node queues until it is empty.
func (q *RedisQueue) runLane(cc *redis.ClusterClient, node *redis.Client) {
	addr := node.Options().Addr
	for {
		gs := q.put.nextInLane(addr)
		if gs == nil {
			return
		}
		ctx, cancel := context.WithDeadline(context.Background(), oldestQueued(gs).Add(q.o.CommitTimeout))
		q.commitNode(ctx, cc, node, gs)
		cancel()
	}
}

// nodeRun is one master's share of a batch, written on a goroutine of its
// own (runNode).
type nodeRun struct {
	node *redis.Client
	gs   []*putGroup

	mu               sync.Mutex
	finished         bool // answered
	drains           bool // left by the committer: it runs its master's lane once answered
	stored, timedOut bool
}

// commitNodes writes each master's share of a batch at once and waits for
// them, at most laneAfter: a share unanswered by then is left to run as
// its master's lane (kept). stored and timedOut cover the shares that
// answered in time.
func (q *RedisQueue) commitNodes(ctx context.Context, cc *redis.ClusterClient, byNode map[*redis.Client][]*putGroup) (stored, timedOut, kept bool) {
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
		case r := <-done:
			stored, timedOut = stored || r.stored, timedOut || r.timedOut
		case <-wait.C:
			for _, r := range runs {
				kept = q.leave(r) || kept
			}
			return stored, timedOut, kept
		}
	}
	return stored, timedOut, false
}

// runNode writes r by dl (the committer's deadline, not its context: the
// committer may stop waiting and cancel that) and, when the committer
// left it to run its master's lane, runs the lane.
func (q *RedisQueue) runNode(cc *redis.ClusterClient, r *nodeRun, dl time.Time, done chan<- *nodeRun) {
	ctx, cancel := context.WithDeadline(context.Background(), dl)
	s, t := q.commitNode(ctx, cc, r.node, r.gs)
	cancel()
	r.mu.Lock()
	r.finished, r.stored, r.timedOut = true, s, t
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
