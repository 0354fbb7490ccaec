package system

import (
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestClusterWaitReplicasShardWithoutReplica: two gateways on a 3+3 Redis
// Cluster with REDIS_WAIT_REPLICAS=1 and a small outage buffer
// (DLR_BUFFER_SIZE=1000); six accounts submit 60/s each. One master is
// killed and not repaired: its replica is promoted and has no replica of
// its own, so every commit on that shard stores the receipts but fails
// its WAIT, and the buffer keeps copies of them until a write-back finds
// them finished. The copies of receipts delivered meanwhile (by either
// gateway) leave the buffer: it stays bounded by what Redis holds
// pending, far below the 120 a second the dead shard's accounts add to
// it, so for 20 s after the promotion every submit is still answered
// ESME_ROK, nothing overflows, and every acknowledged receipt arrives.
func TestClusterWaitReplicasShardWithoutReplica(t *testing.T) {
	const (
		n      = 1500 // per account: 25 s at 60/s
		pace   = time.Second / 60
		killAt = 3 * time.Second
		buffer = 1000
	)
	c := startClusterGatewaysWith(t, map[string]string{
		"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT_MS": "100", "DLR_BUFFER_SIZE": strconv.Itoa(buffer),
	})
	cl, accts, masterOf, gws, victim := c.cl, c.accts, c.masterOf, c.gws, c.victim
	var slot int
	for _, a := range accts {
		if masterOf[a.sys] == victim {
			slot = cl.keySlot("{" + a.sys + "}")
		}
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 60_000_000)
	peak := watchBuffers(gws, loadDone)
	time.Sleep(time.Until(start.Add(killAt)))
	if err := victim.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_, promoted, ok := cl.waitPromoted(slot, victim, 30*time.Second)
	if !ok {
		t.Fatalf("no replica promoted 30 s after the master was killed:\n%s", cl.describe())
	}
	<-loadDone
	after := start.Add(time.Duration(n) * pace)
	if after.Sub(promoted) < 15*time.Second {
		t.Fatalf("the load ended %v after the promotion: too short to fill the buffer without the fix", after.Sub(promoted))
	}

	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	var overflow float64
	for _, g := range gws {
		v, _ := g.series("dlr_buffer_overflow_total")
		overflow += v
	}
	t.Logf("cluster, REDIS_WAIT_REPLICAS=1: master %s killed %v into the load, replica promoted %v later, load went on %v after it; peak buffer per gateway %v; overflow %v; %d acknowledged; lost per account: {%s}",
		victim.addr(), killed.Sub(start).Round(time.Millisecond), promoted.Sub(killed).Round(time.Millisecond),
		after.Sub(promoted).Round(time.Millisecond), peak(), overflow, accepted, fmtCounts(lost))
	for _, l := range runs {
		// From a second after the promotion (go-redis has learnt the
		// new slot map) every submit of every account is accepted.
		got := l.tally(promoted.Add(time.Second), time.Time{})
		if got[pdu.StatusOK.String()] != sumCounts(got) {
			t.Errorf("%s (dead shard %v): submits after the promotion answered %s, want all ESME_ROK",
				l.acct.sys, masterOf[l.acct.sys] == victim, fmtTally(got))
		}
	}
	if overflow > 0 {
		t.Errorf("dlr_buffer_overflow_total = %v, want 0: copies of delivered receipts stayed in the buffer", overflow)
	}
	for i, p := range peak() {
		if p >= buffer {
			t.Errorf("%s: the buffer reached %v of %d", gws[i].name, p, buffer)
		}
	}
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}

// watchBuffers samples dlr_buffer_size on both gateways every 100 ms until
// done closes; the returned function gives the largest value seen on each.
func watchBuffers(gws [2]*gw, done <-chan struct{}) func() [2]float64 {
	var (
		mu   sync.Mutex
		peak [2]float64
	)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			for i, g := range gws {
				if v, ok := g.series("dlr_buffer_size"); ok {
					mu.Lock()
					peak[i] = max(peak[i], v)
					mu.Unlock()
				}
			}
		}
	}()
	return func() [2]float64 {
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
