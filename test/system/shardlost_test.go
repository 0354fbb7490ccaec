package system

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestClusterShardLostWholeComesBackEmpty: two gateways on a 3+3 Redis
// Cluster, six accounts (two per master) each submitting 60/s; one
// master and its replica are both killed with SIGKILL (no replica left
// to promote), and started again a few seconds later with their data
// files deleted (the shard comes back empty, its cluster configuration
// kept). The accounts of the other shards keep every submit accepted and
// their receipts flowing through the outage; the dead shard's accounts
// keep being answered ESME_ROK (their receipts held in the outage buffer)
// and get every receipt accepted from the kill on once the shard is
// back; of those accepted before the kill, no more are missing than the
// gateways count in dlr_lost_total: nothing is lost without a trace.
func TestClusterShardLostWholeComesBackEmpty(t *testing.T) {
	const (
		n      = 600 // per account: 10 s at 60/s
		pace   = time.Second / 60
		killAt = 3 * time.Second
		outage = 3 * time.Second
	)
	c := startClusterGateways(t)
	cl, accts, masterOf, gws, victim := c.cl, c.accts, c.masterOf, c.gws, c.victim
	replicas := cl.replicasOf(victim)
	if len(replicas) == 0 {
		t.Fatalf("the victim %s has no replica:\n%s", victim.addr(), cl.describe())
	}
	shard := append([]*redisServer{victim}, replicas...)
	lostBoth := func() float64 {
		la, _ := gws[0].metric("dlr_lost_total")
		lb, _ := gws[1].metric("dlr_lost_total")
		return la + lb
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 40_000_000)
	time.Sleep(time.Until(start.Add(killAt)))
	for _, r := range shard {
		if err := r.stop(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	killed := time.Now()
	time.Sleep(outage)
	for _, r := range shard {
		// The data goes, the node's cluster configuration (nodes.conf)
		// stays: the master comes back as the empty master of its slots.
		for _, f := range []string{"appendonlydir", "dump.rdb"} {
			if err := os.RemoveAll(filepath.Join(r.dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range shard {
		if err := r.start(); err != nil {
			t.Fatal(err)
		}
	}
	back := time.Now()
	if !waitFor(30*time.Second, cl.settled) {
		t.Fatalf("the cluster did not settle after the shard came back:\n%s", cl.describe())
	}
	<-loadDone

	lostAfter, acceptedAfter := lostSince(runs, killed, 30*time.Second)
	// Whatever survived is delivered once neither gateway has a receipt
	// pending (the outage buffer written back, Redis drained): what is
	// missing then is lost.
	drained := waitFor(30*time.Second, func() bool {
		pa, oka := gws[0].metric("dlr_pending")
		pb, okb := gws[1].metric("dlr_pending")
		return oka && okb && pa == 0 && pb == 0
	})
	if !drained {
		t.Errorf("receipts still pending 30 s after the shard came back")
	}
	missingBefore := 0
	for _, l := range runs {
		missingBefore += l.rc.waitAll(l.accepted(time.Time{}, killed), time.Second)
	}
	// Each gateway adds its share of the loss to the account's loss
	// record and the sum is reported once it settled (a few sweeps).
	waitFor(30*time.Second, func() bool { return lostBoth() >= float64(missingBefore) })
	counted := lostBoth()
	t.Logf("shard %s and its replica killed %v into the load, back empty after %v; %d receipts acknowledged from the kill on, missing per account: {%s}; acknowledged before the kill and missing: %d; dlr_lost_total summed: %v",
		victim.addr(), killed.Sub(start).Round(time.Millisecond), back.Sub(killed).Round(time.Millisecond), acceptedAfter, fmtCounts(lostAfter), missingBefore, counted)
	for _, l := range runs {
		during := l.tally(killed, back)
		t.Logf("  %s (%s): submits during the outage: %s; receipts arriving during it: %d; first receipt after the shard came back: %v",
			l.acct.sys, map[bool]string{true: "dead shard", false: "healthy shard"}[masterOf[l.acct.sys] == victim], fmtTally(during),
			l.rc.between(killed, back), l.rc.firstAfter(back).Sub(back).Round(time.Millisecond))
		if during[pdu.StatusOK.String()] != sumCounts(during) {
			t.Errorf("%s: submits during the outage answered %s, want all ESME_ROK (held in the buffer on the dead shard)", l.acct.sys, fmtTally(during))
		}
		if masterOf[l.acct.sys] != victim && l.rc.between(killed, back) == 0 {
			t.Errorf("%s on a healthy shard: no receipt arrived during the outage", l.acct.sys)
		}
	}
	if len(lostAfter) > 0 {
		t.Errorf("receipts acknowledged from the kill on and never delivered: {%s}", fmtCounts(lostAfter))
	}
	if float64(missingBefore) > counted {
		for _, l := range runs {
			l.mu.Lock()
			for _, r := range l.results {
				if r.err == nil && r.status == pdu.StatusOK && r.at.Before(killed) && l.rc.missing(map[string]bool{r.id: true}) == 1 {
					t.Logf("  missing: %s %s sent %v, answered %v before the kill", l.acct.sys, r.id, killed.Sub(r.sent).Round(time.Millisecond), killed.Sub(r.at).Round(time.Millisecond))
				}
			}
			l.mu.Unlock()
		}
		t.Errorf("%d receipts acknowledged before the kill never arrived, but dlr_lost_total counts %v: lost without a trace", missingBefore, counted)
	}
}
