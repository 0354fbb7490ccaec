//go:build topology_pending

package system

// Topology tests that need receipt-core behaviour not yet in the code
// (per-account degraded state, WAIT replicas, loss detection, leases with
// instance ids). Run them with -tags topology_pending.

import (
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestClusterMasterKillUnderLoad: two gateways on a 3+3 Redis Cluster, six
// accounts (two per master) each submitting 60/s; one master is killed
// with SIGKILL. Every receipt acknowledged from the kill on arrives;
// receipts of the dead shard's accounts flow again within 5 s of the
// replica's promotion; the accounts on the healthy shards keep getting
// every submit accepted and their receipts delivered during the outage.
func TestClusterMasterKillUnderLoad(t *testing.T) {
	const (
		n      = 600 // per account: 10 s at 60/s
		pace   = time.Second / 60
		killAt = 3 * time.Second
	)
	cl := startCluster(t, 3)
	accts, masterOf := clusterAccounts(t, cl, 2)
	env := topoEnv(cl.URL(), writeAccounts(t, accts))
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	victim := cl.masters()[0]
	slot := cl.keySlot("{" + accts[0].sys + "}")
	for _, a := range accts {
		if masterOf[a.sys] == victim {
			slot = cl.keySlot("{" + a.sys + "}")
		}
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 30_000_000)
	time.Sleep(time.Until(start.Add(killAt)))
	if err := victim.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_, promoted, ok := cl.waitPromoted(slot, victim, 30*time.Second)
	if !ok {
		t.Fatalf("no replica promoted 30 s after the kill:\n%s", cl.describe())
	}
	<-loadDone

	lost, accepted := lostSince(runs, killed, 30*time.Second)
	t.Logf("cluster kill: master %s killed %v into the load, replica promoted %v later; %d receipts acknowledged from the kill on; lost per account: {%s}",
		victim.addr(), killed.Sub(start).Round(time.Millisecond), promoted.Sub(killed).Round(time.Millisecond), accepted, fmtCounts(lost))
	for _, l := range runs {
		onVictim := masterOf[l.acct.sys] == victim
		during := l.tally(killed, promoted)
		back := l.rc.firstAfter(promoted)
		t.Logf("  %s (%s): submits during the outage: %s; receipts arriving during the outage: %d; first receipt after the promotion: %v",
			l.acct.sys, map[bool]string{true: "dead shard", false: "healthy shard"}[onVictim], fmtTally(during),
			l.rc.between(killed, promoted), back.Sub(promoted).Round(time.Millisecond))
		if onVictim {
			if back.IsZero() || back.Sub(promoted) > 5*time.Second {
				t.Errorf("%s: receipts did not flow again within 5 s of the promotion (first after it: %v)", l.acct.sys, back.Sub(promoted))
			}
			continue
		}
		if during[pdu.StatusOK.String()] != sumCounts(during) {
			t.Errorf("%s on a healthy shard: submits during the outage answered %s, want all ESME_ROK", l.acct.sys, fmtTally(during))
		}
		// Receipts of messages accepted after the kill reach the receiver
		// before the promotion: the healthy shard never stopped.
		if l.rc.between(killed.Add(time.Second), promoted) == 0 {
			t.Errorf("%s on a healthy shard: no receipt arrived between 1 s after the kill and the promotion", l.acct.sys)
		}
	}
	if len(lost) > 0 {
		t.Errorf("receipts acknowledged from the kill on and never delivered: {%s}", fmtCounts(lost))
	}
}
