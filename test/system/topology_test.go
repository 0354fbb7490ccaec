package system

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Tests of receipts on real Redis topologies with two gateway processes
// and several accounts. Each account submits on one gateway and receives
// its receipts on the other.

// topoEnv is the environment both gateways of a topology test share: a
// short receipt delay, and leases short enough that a receipt whose
// deliver_sm_resp was lost comes again within the test.
func topoEnv(redisURL, accountsFile string) map[string]string {
	return map[string]string{
		"REDIS_URL": redisURL, "REDIS_KEY_PREFIX": uniquePrefix(), "SMPP_ACCOUNTS_FILE": accountsFile,
		"DLR_DELAY_SECONDS": "0.2", "SMPP_RESPONSE_TIMEOUT_SECONDS": "2", "DLR_VISIBILITY_TIMEOUT_SECONDS": "3",
		"REDIS_TIMEOUT_SECONDS": "0.5",
	}
}

func mergeEnv(base map[string]string, extra map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// clusterAccounts picks perMaster account names whose hash tag ({system_id})
// falls on each master of cl.
func clusterAccounts(t *testing.T, cl *redisCluster, perMaster int) (accts []account, master map[string]*redisServer) {
	t.Helper()
	masters := cl.masters()
	count := map[*redisServer]int{}
	master = map[string]*redisServer{}
	for i := 0; len(accts) < perMaster*len(masters); i++ {
		if i > 10_000 {
			t.Fatal("could not spread accounts over the masters")
		}
		sys := fmt.Sprintf("acct%03d", i)
		m := cl.masterOf(cl.keySlot("{" + sys + "}"))
		if count[m] == perMaster {
			continue
		}
		count[m]++
		master[sys] = m
		accts = append(accts, account{sys: sys, pass: "pw" + sys[4:]})
	}
	return accts, master
}

// startLoad binds every account (transmitter on one gateway, receiver on
// the other, alternating) and starts n paced submits per account; the
// returned channel closes when every load has its answers.
func startLoad(t *testing.T, gws [2]*gw, accts []account, n int, pace time.Duration, base int) ([]*loadRun, <-chan struct{}) {
	t.Helper()
	runs := make([]*loadRun, len(accts))
	for i, a := range accts {
		rc := newReceipts()
		dialAs(t, gws[(i+1)%2].smppAddr, a, pdu.CmdBindReceiver, rc)
		runs[i] = &loadRun{acct: a, rc: rc}
	}
	txs := make([]func(), len(accts))
	for i, a := range accts {
		tx := dialAs(t, gws[i%2].smppAddr, a, pdu.CmdBindTransmitter, nil)
		dests := invalidNumbers(base+i*1_000_000, n)
		l := runs[i]
		txs[i] = func() { l.pace(tx, dests, pace, 64, 30*time.Second) }
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, f := range txs {
			wg.Add(1)
			go func() { defer wg.Done(); f() }()
		}
		wg.Wait()
		close(done)
	}()
	return runs, done
}

// lostSince waits up to d for the receipts of every id accepted at or after
// from and returns, per account, how many are missing.
func lostSince(runs []*loadRun, from time.Time, d time.Duration) (lost map[string]int, accepted int) {
	lost = map[string]int{}
	deadline := time.Now().Add(d)
	for _, l := range runs {
		ids := l.accepted(from, time.Time{})
		accepted += len(ids)
		if m := l.rc.waitAll(ids, time.Until(deadline)); m > 0 {
			lost[l.acct.sys] = m
		}
	}
	return lost, accepted
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// TestClusterSlotMigrationBusyAccount: two gateways on a 3+3 Redis
// Cluster; while an account submits at 100/s, the slot of its hash tag is
// migrated from master to master three times (IMPORTING/MIGRATING,
// MIGRATE, SETSLOT NODE), with a second of receipts pending at each move.
// Every receipt acknowledged arrives.
func TestClusterSlotMigrationBusyAccount(t *testing.T) {
	const (
		n     = 800 // 8 s at 100/s
		pace  = 10 * time.Millisecond
		moves = 3
	)
	cl := startCluster(t, 3)
	accts, masterOf := clusterAccounts(t, cl, 1)
	env := mergeEnv(topoEnv(cl.URL(), writeAccounts(t, accts)), map[string]string{"DLR_DELAY_SECONDS": "1"})
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	busy := accts[0]
	slot := cl.keySlot("{" + busy.sys + "}")
	masters := cl.masters()

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 40_000_000)
	var moved []string
	var migErr error
	for i := range moves {
		time.Sleep(time.Until(start.Add(time.Duration(2*i+2) * time.Second)))
		from := cl.masterOf(slot)
		to := masters[0]
		for _, m := range masters {
			if m != from && (i%2 == 0 || m != masterOf[busy.sys]) {
				to = m
				break
			}
		}
		at := time.Now()
		if migErr = cl.migrateSlot(slot, to); migErr != nil {
			break
		}
		moved = append(moved, fmt.Sprintf("%s→%s at %v in %v", from.addr(), to.addr(),
			at.Sub(start).Round(time.Millisecond), time.Since(at).Round(time.Millisecond)))
	}
	<-loadDone
	if migErr != nil {
		t.Fatalf("migrating slot %d: %v", slot, migErr)
	}
	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	var counts []string
	for _, l := range runs {
		counts = append(counts, fmt.Sprintf("%s: %s", l.acct.sys, fmtTally(l.tally(time.Time{}, time.Time{}))))
	}
	t.Logf("slot migration: slot %d of %s moved %s; %d accepted (%s); lost per account: {%s}",
		slot, busy.sys, strings.Join(moved, ", "), accepted, strings.Join(counts, "; "), fmtCounts(lost))
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
