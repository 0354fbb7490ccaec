package dlr

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// TestMasterThatStartsToHangHoldsNoCommitter: the first receipt of an
// account whose Cluster master has just frozen (SIGSTOP), not yet known
// to be hung, does not hold the committers: a receipt of an account on
// the healthy master queued after it is stored while the frozen master
// still holds the first, which is stored once the master answers again.
// Before lanes the committer waited out CommitTimeout for the frozen
// master, and every put queued behind it waited with it.
func TestMasterThatStartsToHangHoldsNoCommitter(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", CommitTimeout: 20 * time.Second})
	live, hung := accountOn(t, c, q, ms[0].Addr), accountOn(t, c, q, ms[1].Addr)
	ctx := context.Background()
	for i, sys := range []string{live, hung} { // scripts loaded, slots known
		if err := q.Put(ctx, receipt("00000000000000B"+string(rune('1'+i)), sys, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[1].Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = ms[1].Resume()
		}
	}()
	held := make(chan error, 1)
	q.PutAsync(receipt("00000000000000C1", hung, 0), func(err error) { held <- err })
	for !q.put.taken(1) { // a committer has it: the next put is another batch
		runtime.Gosched()
	}

	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Put(pctx, receipt("00000000000000C2", live, 0)); err != nil {
		t.Fatalf("put of %s on the healthy master while %s's master is frozen: %v", live, hung, err)
	}
	select {
	case err := <-held:
		t.Fatalf("the frozen master's put answered (%v) before the master was resumed", err)
	default:
	}

	if err := ms[1].Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	if err := <-held; err != nil {
		t.Fatalf("the frozen master's put once it answers again: %v", err)
	}
	for _, sys := range []string{live, hung} {
		if n, err := q.PendingCount(ctx, sys); err != nil || n != 2 {
			t.Fatalf("%s: %d pending (%v), want 2", sys, n, err)
		}
	}
	for q.put.laneCount() != 0 {
		runtime.Gosched() // the lane ends once it finds nothing queued
	}
}

// taken reports whether n requests are in commits and none waits.
func (g *groupCommit) taken(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.committing == n && len(g.waiting) == 0
}

// TestLaneTakesUpToABatch: a lane writes what queued oldest first, up to
// putBatchMax receipts per pipeline (a larger group alone), and ends
// when nothing is queued; a closing one takes groups only while the
// master is hung.
func TestLaneTakesUpToABatch(t *testing.T) {
	group := func(n int) *putGroup { return &putGroup{reqs: make([]*putReq, n)} }
	var g groupCommit
	g.hungNodes = map[string]bool{"m": true}
	if queued, start := g.toLane("m", []*putGroup{group(300), group(300)}); !queued || !start {
		t.Fatalf("toLane on a hung master without a lane: queued %v, start %v; want both", queued, start)
	}
	if queued, start := g.toLane("m", []*putGroup{group(100), group(600), group(1)}); !queued || start {
		t.Fatalf("toLane on a lane that runs: queued %v, start %v; want queued only", queued, start)
	}
	if queued, _ := g.toLane("other", []*putGroup{group(1)}); queued {
		t.Fatal("toLane queued a group of a master neither hung nor with a lane")
	}
	for i, want := range [][]int{{300}, {300, 100}, {600}, {1}} {
		gs := g.nextInLane("m")
		got := make([]int, len(gs))
		for j, x := range gs {
			got[j] = len(x.reqs)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pipeline %d of the lane: groups of %v receipts, want %v", i, got, want)
		}
	}
	if gs := g.nextInLane("m"); gs != nil || g.laneCount() != 0 {
		t.Fatalf("an empty lane gave %d groups, %d lanes left; want it ended", len(gs), g.laneCount())
	}
	if !g.openLane("m") || g.openLane("m") {
		t.Fatal("openLane: want a lane opened once")
	}

	// A closing lane takes no more groups of a master that answers (the
	// committers write them), but takes them again once it hangs.
	g.hungNodes = nil
	g.closeLane("m")
	if queued, _ := g.toLane("m", []*putGroup{group(1)}); queued {
		t.Fatal("a closing lane took a group of a master not hung")
	}
	g.hungNodes = map[string]bool{"m": true}
	if queued, start := g.toLane("m", []*putGroup{group(2)}); !queued || start {
		t.Fatalf("a closing lane, the master hung: queued %v, start %v; want queued in it", queued, start)
	}
	g.hungNodes = nil
	if queued, _ := g.toLane("m", []*putGroup{group(3)}); !queued {
		t.Fatal("the lane took groups again and then refused one")
	}
	if gs := g.nextInLane("m"); len(gs) != 2 || len(gs[0].reqs) != 2 || len(gs[1].reqs) != 3 {
		t.Fatalf("the lane gave %d groups, want those of 2 and 3 receipts", len(gs))
	}
}

// TestLaneAfterFollowsSlowAfter: a committer waits SlowAfter
// (REDIS_SLOW_MS) for a master's share, at most a quarter of the
// commit's bound.
func TestLaneAfterFollowsSlowAfter(t *testing.T) {
	for _, tc := range []struct{ slow, commit, want time.Duration }{
		{0, 2 * time.Second, DefaultSlowAfter},
		{200 * time.Millisecond, 2 * time.Second, 200 * time.Millisecond},
		{200 * time.Millisecond, 400 * time.Millisecond, 100 * time.Millisecond},
	} {
		q := NewRedisQueue(nil, RedisOptions{SlowAfter: tc.slow, CommitTimeout: tc.commit})
		if got := q.laneAfter(); got != tc.want {
			t.Errorf("SlowAfter %v, CommitTimeout %v: laneAfter %v, want %v", tc.slow, tc.commit, got, tc.want)
		}
	}
}

// TestNewAccountNotHeldByTheAccountsSetsMaster: the first put of an
// account adds it to Paccounts, whose key has a Cluster master of its
// own. With that master frozen (SIGSTOP), a put of a new account on the
// healthy master is answered while it is still frozen: the addition is
// waited for at most REDIS_SLOW_MS and then left to finish (before, the
// commit waited for it, CommitTimeout here, and so did every put
// committed with it); the account is listed once the master answers.
func TestNewAccountNotHeldByTheAccountsSetsMaster(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", CommitTimeout: 20 * time.Second})
	ctx := context.Background()
	node, err := c.MasterForKey(ctx, q.accountsKey())
	if err != nil {
		t.Fatal(err)
	}
	frozen, healthy := ms[0], ms[1]
	if node.Options().Addr != frozen.Addr {
		frozen, healthy = healthy, frozen
	}
	listed := accountOn(t, c, q, healthy.Addr)
	if err := q.Put(ctx, receipt("00000000000000A1", listed, 0)); err != nil { // listed, scripts loaded
		t.Fatal(err)
	}
	var fresh string
	redistest.KeyOn(t, c, healthy.Addr, func(i int) string {
		fresh = "new" + strconv.Itoa(i)
		return q.accountKeys(fresh)[0]
	})
	if err := frozen.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = frozen.Resume()
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := q.Put(pctx, receipt("00000000000000A2", fresh, 0)); err != nil {
		t.Fatalf("put of a new account on the healthy master while Paccounts's master is frozen: %v", err)
	}
	q.mu.Lock()
	adding := q.listing != nil
	q.mu.Unlock()
	if !adding {
		t.Fatal("the put was answered after its addition to Paccounts ended, which the frozen master cannot have answered: it waited for it")
	}
	if err := q.Put(pctx, receipt("00000000000000A3", listed, 0)); err != nil {
		t.Fatalf("put of a listed account on the healthy master meanwhile: %v", err)
	}

	if err := frozen.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	q.mu.Lock()
	done := q.listing
	q.mu.Unlock()
	if done != nil {
		<-done // bounded by CommitTimeout
	}
	accts, err := q.Accounts(ctx)
	if err != nil || !slices.Contains(accts, fresh) {
		t.Fatalf("Paccounts after the master answered again: %v (%v), want %s in it", accts, err, fresh)
	}
}
