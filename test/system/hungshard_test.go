package system

import (
	"sort"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestClusterHungShardHealthyAccountsFlow: two gateways on a 3+3 Redis
// Cluster, six accounts (two per master) each submitting 60/s; one master
// and its replica are frozen with SIGSTOP (they keep their sockets and
// answer nothing, so no failover can happen) for 8 s, then resumed. The
// accounts on the healthy shards keep every submit accepted and get every
// receipt of the freeze soon after its submit: a claim or an ack of an
// account on the hung shard must not hold theirs. Once the shard is back,
// every receipt acknowledged arrives, the hung shard's included, and no
// healthy account's receipt is sent twice.
func TestClusterHungShardHealthyAccountsFlow(t *testing.T) {
	const (
		n        = 900 // per account: 15 s at 60/s
		pace     = time.Second / 60
		freezeAt = 3 * time.Second
		freezeOf = 8 * time.Second
		// maxWait bounds how long after its ESME_ROK a healthy account's
		// receipt arrives during the freeze: the receipt delay (0.2 s),
		// plus once REDIS_TIMEOUT_SECONDS (0.5 s) on a claim of the hung
		// shard before that account is set aside, plus slack. It was
		// 2.2 s when that claim waited out the dispatcher's 2 s
		// operation timeout (the Redis client tries a command that timed
		// out again), and when a batch of the hung master's accounts
		// alone made the next commit of the healthy ones end early.
		maxWait = 1500 * time.Millisecond
	)
	c := startClusterGateways(t)
	cl, accts, masterOf, gws, victim := c.cl, c.accts, c.masterOf, c.gws, c.victim
	frozen := append([]*redisServer{victim}, cl.replicasOf(victim)...)
	if len(frozen) < 2 {
		t.Fatalf("master %s has no replica:\n%s", victim.addr(), cl.describe())
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 40_000_000)
	time.Sleep(time.Until(start.Add(freezeAt)))
	for _, r := range frozen {
		if err := r.pause(); err != nil {
			t.Fatal(err)
		}
	}
	froze := time.Now()
	resumed := false
	resume := func() {
		if resumed {
			return
		}
		resumed = true
		for _, r := range frozen {
			_ = r.resume()
		}
	}
	t.Cleanup(resume)
	time.Sleep(freezeOf)
	resume()
	thawed := time.Now()
	<-loadDone

	lost, accepted := lostSince(runs, start, 30*time.Second)
	t.Logf("hung shard: master %s and its replica frozen %v into the load for %v; %d receipts acknowledged; lost per account: {%s}",
		victim.addr(), froze.Sub(start).Round(time.Millisecond), thawed.Sub(froze).Round(time.Millisecond), accepted, fmtCounts(lost))
	for _, l := range runs {
		onVictim := masterOf[l.acct.sys] == victim
		during := l.tally(froze, thawed)
		waits := l.receiptWaits(froze, thawed)
		answers := l.answerWaits(froze, thawed)
		_, _, dups := l.rc.counts()
		t.Logf("  %s (%s): submits during the freeze: %s, answered p50 %v, max %v; receipt after ESME_ROK during it: p50 %v, max %v over %d; sent twice: %d",
			l.acct.sys, map[bool]string{true: "hung shard", false: "healthy shard"}[onVictim], fmtTally(during),
			quantile(answers, 0.5), quantile(answers, 1), quantile(waits, 0.5), quantile(waits, 1), len(waits), dups)
		if onVictim {
			continue
		}
		if dups > 0 {
			t.Errorf("%s on a healthy shard: %d receipts sent twice", l.acct.sys, dups)
		}
		if during[pdu.StatusOK.String()] != sumCounts(during) {
			t.Errorf("%s on a healthy shard: submits during the freeze answered %s, want all ESME_ROK", l.acct.sys, fmtTally(during))
		}
		if len(waits) == 0 {
			t.Errorf("%s on a healthy shard: no receipt of a submit accepted during the freeze", l.acct.sys)
		} else if w := quantile(waits, 1); w > maxWait {
			t.Errorf("%s on a healthy shard: a receipt of the freeze arrived %v after its ESME_ROK, want at most %v", l.acct.sys, w, maxWait)
		}
	}
	if len(lost) > 0 {
		t.Errorf("receipts acknowledged and never delivered: {%s}", fmtCounts(lost))
	}
}

// receiptWaits returns, for each id accepted in [from, to) whose receipt
// arrived, how long after its ESME_ROK the first receipt came.
func (l *loadRun) receiptWaits(from, to time.Time) []time.Duration {
	l.mu.Lock()
	acc := map[string]time.Time{}
	for _, r := range l.results {
		if r.err == nil && r.status == pdu.StatusOK && !r.at.Before(from) && r.at.Before(to) {
			acc[r.id] = r.at
		}
	}
	l.mu.Unlock()
	l.rc.mu.Lock()
	defer l.rc.mu.Unlock()
	var out []time.Duration
	for id, at := range acc {
		if f, ok := l.rc.first[id]; ok {
			out = append(out, f.Sub(at))
		}
	}
	return out
}

// answerWaits returns how long each submit answered in [from, to) waited
// for its answer.
func (l *loadRun) answerWaits(from, to time.Time) []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Duration
	for _, r := range l.results {
		if r.err == nil && !r.at.Before(from) && r.at.Before(to) {
			out = append(out, r.at.Sub(r.sent))
		}
	}
	return out
}

// quantile is the q-quantile of ds (0 when empty), rounded to the
// millisecond.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))].Round(time.Millisecond)
}
