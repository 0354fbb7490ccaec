package system

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
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

// clusterGateways is a 3+3 Redis Cluster with two gateways on it, six
// accounts (two per master) and the first master, the one a test fails.
type clusterGateways struct {
	cl       *redisCluster
	accts    []account
	masterOf map[string]*redisServer // account → its master at the start
	gws      [2]*gw
	victim   *redisServer
}

func startClusterGateways(t *testing.T) clusterGateways {
	t.Helper()
	return startClusterGatewaysWith(t, nil)
}

// startClusterGatewaysWith is startClusterGateways with extra settings for
// both gateways.
func startClusterGatewaysWith(t *testing.T, extra map[string]string) clusterGateways {
	t.Helper()
	cl := startCluster(t, 3)
	accts, masterOf := clusterAccounts(t, cl, 2)
	env := mergeEnv(topoEnv(cl.URL(), writeAccounts(t, accts)), extra)
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	return clusterGateways{cl: cl, accts: accts, masterOf: masterOf, gws: gws, victim: cl.masters()[0]}
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

// TestClusterMasterKillUnderLoad: two gateways on a 3+3 Redis Cluster, six
// accounts (two per master) each submitting 60/s; one master is killed
// with SIGKILL. Every receipt acknowledged from the kill on arrives;
// receipts of the dead shard's accounts flow again within 5 s of the
// replica's promotion; the accounts on the healthy shards keep getting
// every submit accepted and their receipts delivered during the outage.
func TestClusterMasterKillUnderLoad(t *testing.T) {
	clusterMasterFailsUnderLoad(t, "killed", func(r *redisServer) error { return r.stop(syscall.SIGKILL) }, nil)
}

// TestClusterMasterFrozenUnderLoad: the test above, but the master is
// frozen (SIGSTOP) rather than killed, so that its connections hang
// instead of being refused, and thawed (SIGCONT) once its replica is
// promoted: it then rejoins as a replica.
func TestClusterMasterFrozenUnderLoad(t *testing.T) {
	clusterMasterFailsUnderLoad(t, "frozen", (*redisServer).pause, (*redisServer).resume)
}

// clusterMasterFailsUnderLoad runs the load of the two tests above, fails
// the first master with fail and, once its replica is promoted, calls
// after (nil: nothing) on it.
func clusterMasterFailsUnderLoad(t *testing.T, what string, fail, after func(*redisServer) error) {
	const (
		n      = 600 // per account: 10 s at 60/s
		pace   = time.Second / 60
		killAt = 3 * time.Second
	)
	c := startClusterGateways(t)
	cl, accts, masterOf, gws, victim := c.cl, c.accts, c.masterOf, c.gws, c.victim
	slot := cl.keySlot("{" + accts[0].sys + "}")
	for _, a := range accts {
		if masterOf[a.sys] == victim {
			slot = cl.keySlot("{" + a.sys + "}")
		}
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 30_000_000)
	time.Sleep(time.Until(start.Add(killAt)))
	if err := fail(victim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_, promoted, ok := cl.waitPromoted(slot, victim, 30*time.Second)
	if after != nil {
		if err := after(victim); err != nil {
			t.Fatal(err)
		}
	}
	if !ok {
		t.Fatalf("no replica promoted 30 s after the master was %s:\n%s", what, cl.describe())
	}
	<-loadDone

	lost, accepted := lostSince(runs, killed, 30*time.Second)
	t.Logf("cluster: master %s %s %v into the load, replica promoted %v later; %d receipts acknowledged from the kill on; lost per account: {%s}",
		victim.addr(), what, killed.Sub(start).Round(time.Millisecond), promoted.Sub(killed).Round(time.Millisecond), accepted, fmtCounts(lost))
	for _, l := range runs {
		onVictim := masterOf[l.acct.sys] == victim
		during := l.tally(killed, promoted)
		back := l.rc.firstAfter(promoted)
		waits := l.receiptWaits(killed, promoted)
		t.Logf("  %s (%s): submits during the outage: %s; receipts arriving during the outage: %d; first receipt after the promotion: %v; receipts of submits accepted during the outage came p50 %v, max %v after their ESME_ROK",
			l.acct.sys, map[bool]string{true: "dead shard", false: "healthy shard"}[onVictim], fmtTally(during),
			l.rc.between(killed, promoted), back.Sub(promoted).Round(time.Millisecond), quantile(waits, 0.5), quantile(waits, 1))
		if onVictim {
			if back.IsZero() || back.Sub(promoted) > 5*time.Second {
				t.Errorf("%s: receipts did not flow again within 5 s of the promotion (first after it: %v)", l.acct.sys, back.Sub(promoted))
			}
			continue
		}
		if during[pdu.StatusOK.String()] != sumCounts(during) {
			t.Errorf("%s on a healthy shard: submits during the outage answered %s, want all ESME_ROK", l.acct.sys, fmtTally(during))
		}
		// Receipts reach the receiver between the kill and the promotion:
		// the healthy shard never stopped. (The promotion can come 1.5 s
		// after the kill, so the whole outage is the window.)
		if l.rc.between(killed, promoted) == 0 {
			t.Errorf("%s on a healthy shard: no receipt arrived between the kill and the promotion", l.acct.sys)
		}
	}
	if len(lost) > 0 {
		t.Errorf("receipts acknowledged from the kill on and never delivered: {%s}", fmtCounts(lost))
	}
}

// TestRedisRestartedEmptyCountsLost: two gateways on one Redis hold
// pending receipts of three accounts (no receiver bound); Redis is killed
// with SIGKILL and started again with its data deleted. dlr_lost_total,
// summed over both gateways, equals what Redis held:
//   - once both gateways have counted the accounts since the last submit;
//   - right after a steady load on both gateways for every account, five
//     seconds long, so that the gateways' counts (every couple of
//     seconds, at different times) fall between the submits.
func TestRedisRestartedEmptyCountsLost(t *testing.T) {
	accts := []account{{"acct001", "pw001"}, {"acct002", "pw002"}, {"acct003", "pw003"}}
	tests := []struct {
		name string
		// submit returns the receipts Redis holds when it is killed;
		// pending is how many the account's pending hash holds.
		submit func(t *testing.T, gws [2]*gw, pending func(sys string) int64) int
	}{
		{"counted before the restart", func(t *testing.T, gws [2]*gw, _ func(string) int64) int {
			held := 0
			for i, a := range accts {
				tx := dialAs(t, gws[i%2].smppAddr, a, pdu.CmdBindTransmitter, nil)
				res := submitAll(t, tx, invalidNumbers(60_000_000+i*1_000_000, 100), 64, 0, 30*time.Second)
				held += len(acceptedIDs(t, res))
			}
			pendingBoth := func() float64 {
				pa, _ := gws[0].metric("dlr_pending")
				pb, _ := gws[1].metric("dlr_pending")
				return max(pa, pb)
			}
			if !waitFor(10*time.Second, func() bool { return pendingBoth() == float64(held) }) {
				t.Fatalf("dlr_pending = %v, want the %d accepted", pendingBoth(), held)
			}
			return held
		}},
		{"restarted under a steady load", func(t *testing.T, gws [2]*gw, _ func(string) int64) int {
			return steadySubmits(t, gws, accts, 250, 20*time.Millisecond)
		}},
		// Receipts stored through one gateway and delivered through the
		// other: after the counts, the second only acknowledges (a
		// negative share of the loss), and the sum must still be what
		// Redis held, not the first gateway's count plus its stores.
		{"delivered through the other gateway", func(t *testing.T, gws [2]*gw, pending func(string) int64) int {
			a := accts[0]
			tx := dialAs(t, gws[0].smppAddr, a, pdu.CmdBindTransmitter, nil)
			first := acceptedIDs(t, submitAll(t, tx, invalidNumbers(61_000_000, 200), 64, 0, 30*time.Second))
			countedBoth := func(n int) bool {
				pa, _ := gws[0].metric("dlr_pending")
				pb, _ := gws[1].metric("dlr_pending")
				return pa == float64(n) && pb == float64(n)
			}
			if !waitFor(10*time.Second, func() bool { return countedBoth(len(first)) }) {
				t.Fatalf("the gateways did not count the %d accepted", len(first))
			}
			rc := newReceipts()
			rx := dialAs(t, gws[1].smppAddr, a, pdu.CmdBindReceiver, rc)
			if m := rc.waitAll(first, 30*time.Second); m > 0 {
				t.Fatalf("%d receipts not delivered", m)
			}
			if !waitFor(10*time.Second, func() bool { return pending(a.sys) == 0 }) {
				t.Fatalf("Redis still holds %d receipts after every one was delivered", pending(a.sys))
			}
			_ = rx.Close()
			second := acceptedIDs(t, submitAll(t, tx, invalidNumbers(62_000_000, 100), 64, 0, 30*time.Second))
			if n := pending(a.sys); n != int64(len(second)) {
				t.Fatalf("Redis holds %d receipts, want the %d accepted since", n, len(second))
			}
			return len(second)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := startRedis(t, "--appendfsync", "always")
			env := topoEnv(rs.URL(), writeAccounts(t, accts))
			gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
			rc := nodeClient(t, rs.addr(), "")
			pending := func(sys string) int64 {
				ctx, cancel := shortCtx()
				defer cancel()
				n, err := rc.HLen(ctx, env["REDIS_KEY_PREFIX"]+"dlr:{"+sys+"}:r").Result()
				if err != nil {
					return -1
				}
				return n
			}
			held := tt.submit(t, gws, pending)
			if err := rs.stop(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(rs.dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(rs.dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := rs.start(); err != nil {
				t.Fatal(err)
			}
			restarted := time.Now()
			lostBoth := func() float64 {
				la, _ := gws[0].metric("dlr_lost_total")
				lb, _ := gws[1].metric("dlr_lost_total")
				return la + lb
			}
			// Found at each gateway's next put or count, reported once the
			// shares are summed in Redis (4 s after the first).
			waitFor(30*time.Second, func() bool { return lostBoth() >= float64(held) })
			// A little longer, so a count above what was held shows.
			time.Sleep(2 * time.Second)
			got := lostBoth()
			t.Logf("redis restarted empty: it held %d receipts; dlr_lost_total summed over both gateways = %v, %v after the restart",
				held, got, time.Since(restarted).Round(time.Millisecond))
			if got != float64(held) {
				for i, g := range gws {
					for _, ev := range []string{"dlr.redis_loss_found", "dlr.redis_lost_receipts"} {
						for _, l := range g.events(ev) {
							t.Logf("gateway %d: %s %v", i, ev, l)
						}
					}
				}
				t.Errorf("dlr_lost_total = %v after Redis lost %d receipts", got, held)
			}
		})
	}
}

// steadySubmits binds a transmitter of every account on both gateways
// and has each send perClient submits, one every pace, all at once; it
// returns once every one is answered, with how many were accepted (each
// accepted receipt is stored in Redis by then).
func steadySubmits(t *testing.T, gws [2]*gw, accts []account, perClient int, pace time.Duration) int {
	t.Helper()
	var clients []*esme.Client
	for _, a := range accts {
		for _, g := range gws {
			clients = append(clients, dialAs(t, g.smppAddr, a, pdu.CmdBindTransmitter, nil))
		}
	}
	answers := make(chan pdu.Status, len(clients)*perClient)
	for i := range perClient {
		for k, c := range clients {
			c.SendAsync(submitSM(fmt.Sprintf("4099%08d", 70_000_000+k*1_000_000+i)), func(p pdu.PDU, err error) {
				if err != nil {
					answers <- pdu.StatusSysErr
					return
				}
				answers <- p.Status
			})
		}
		time.Sleep(pace)
	}
	accepted := 0
	timeout := time.After(30 * time.Second)
	for range len(clients) * perClient {
		select {
		case st := <-answers:
			if st == pdu.StatusOK {
				accepted++
			}
		case <-timeout:
			t.Fatalf("not every submit was answered within 30 s (%d accepted)", accepted)
		}
	}
	return accepted
}

// sentinelWaitLoad is the load of the Sentinel failover tests under way:
// two gateways on a Sentinel set (a master, two replicas, three
// Sentinels) with REDIS_WAIT_REPLICAS=waitReplicas, four accounts submitting 50/s
// each for 10 s (receipts due 2 s later), each on one gateway and
// receiving on the other.
type sentinelWaitLoad struct {
	ss    *sentinelSet
	gws   [2]*gw
	old   *redisServer // the master when the load started
	runs  []*loadRun
	start time.Time
	done  <-chan struct{}
}

func startSentinelWaitLoad(t *testing.T, waitReplicas string) sentinelWaitLoad {
	t.Helper()
	const (
		n    = 500 // per account: 10 s at 50/s
		pace = 20 * time.Millisecond
	)
	ss := startSentinelSet(t, 2)
	accts := []account{{"acct001", "pw001"}, {"acct002", "pw002"}, {"acct003", "pw003"}, {"acct004", "pw004"}}
	env := mergeEnv(topoEnv(ss.URL(), writeAccounts(t, accts)), map[string]string{
		"REDIS_WAIT_REPLICAS": waitReplicas, "REDIS_WAIT_TIMEOUT_MS": "200", "DLR_DELAY_SECONDS": "2",
	})
	l := sentinelWaitLoad{ss: ss, gws: [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}, old: ss.master()}
	l.start = time.Now()
	l.runs, l.done = startLoad(t, l.gws, accts, n, pace, 50_000_000)
	return l
}

// wentBackSum sums dlr_redis_went_back_total and dlr_replayed_total over
// gws.
func wentBackSum(gws [2]*gw) (wentBack, replayed float64) {
	for _, g := range gws {
		v, _ := g.metric("dlr_replayed_total")
		replayed += v
		v, _ = g.metric("dlr_redis_went_back_total")
		wentBack += v
	}
	return wentBack, replayed
}

// TestSentinelFailoverWaitReplicas: two gateways on a Sentinel set (a
// master, two replicas, three Sentinels) with REDIS_WAIT_REPLICAS=1, four
// accounts submitting 50/s each (receipts due 2 s later). Half a second
// before the master is killed with SIGKILL its replicas are cut off from
// it (their link is closed and they reconnect with a wrong password), so
// the replica that is promoted lacks the last half second of writes.
// No receipt acknowledged at any time is lost.
func TestSentinelFailoverWaitReplicas(t *testing.T) {
	const killAt = 3 * time.Second
	l := startSentinelWaitLoad(t, "1")
	ss, runs, start, old, loadDone := l.ss, l.runs, l.start, l.old, l.done
	time.Sleep(time.Until(start.Add(killAt - 500*time.Millisecond)))
	if err := ss.cutReplication(old, "wrong-password"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	lag := ss.replicationLag(old)
	if err := old.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := ss.cutReplication(old, ss.pass); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	nm, promoted, ok := ss.waitFailover(old, 30*time.Second)
	if !ok {
		t.Fatalf("no failover 30 s after the kill: %s", ss.describe())
	}
	<-loadDone
	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	var counts []string
	for _, l := range runs {
		counts = append(counts, fmt.Sprintf("%s: %s", l.acct.sys, fmtTally(l.tally(time.Time{}, time.Time{}))))
	}
	wentBack, replayed := wentBackSum(l.gws)
	t.Logf("sentinel failover: master %s killed %v into the load (replicas cut off 500 ms before, lagging %s), %s promoted %v later; %d acknowledged (%s); went back %v times, %v receipts put again; lost per account: {%s}",
		old.addr(), killed.Sub(start).Round(time.Millisecond), lag, nm.addr(), promoted.Sub(killed).Round(time.Millisecond),
		accepted, strings.Join(counts, "; "), wentBack, replayed, fmtCounts(lost))
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}

// TestSentinelGracefulFailover: the set-up of
// TestSentinelFailoverWaitReplicas, but the master is handed over with
// SENTINEL FAILOVER. The old master takes writes until Sentinel turns it
// into a replica, and a replica still attached to it answers WAIT; that
// replica is then pointed at the promoted one and resyncs, dropping the
// writes the promoted one lacks. Each gateway finds its own put number
// gone back on the promoted master and puts again what it stored after it: no
// receipt acknowledged at any time is lost, with REDIS_WAIT_REPLICAS 1 or
// 0 (then the promoted master also lacks what replication had not sent
// it yet).
func TestSentinelGracefulFailover(t *testing.T) {
	for _, wait := range []string{"1", "0"} {
		t.Run("REDIS_WAIT_REPLICAS="+wait, func(t *testing.T) { sentinelGracefulFailover(t, wait) })
	}
}

func sentinelGracefulFailover(t *testing.T, waitReplicas string) {
	const failoverAt = 3 * time.Second
	l := startSentinelWaitLoad(t, waitReplicas)
	ss, gws, runs, start, old, loadDone := l.ss, l.gws, l.runs, l.start, l.old, l.done
	time.Sleep(time.Until(start.Add(failoverAt)))
	if err := ss.failover(); err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	nm, promoted, ok := ss.waitFailover(old, 30*time.Second)
	if !ok {
		t.Fatalf("no failover 30 s after SENTINEL FAILOVER: %s", ss.describe())
	}
	<-loadDone
	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	wentBack, replayed := wentBackSum(gws)
	t.Logf("sentinel graceful failover: asked %v into the load, %s promoted %v later; %d acknowledged; went back %v times, %v receipts put again; lost per account: {%s}",
		asked.Sub(start).Round(time.Millisecond), nm.addr(), promoted.Sub(asked).Round(time.Millisecond),
		accepted, wentBack, replayed, fmtCounts(lost))
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}

// TestClusterForcedFailover: two gateways on a 3+3 Redis Cluster, six
// accounts (two per master) each submitting 60/s, REDIS_WAIT_REPLICAS=0;
// a replica takes its master's slots without the master's agreement
// (CLUSTER FAILOVER FORCE, then TAKEOVER), while the master is alive and
// still taking the gateways' writes until the new configuration reaches
// it; it then becomes a replica of the promoted node and resyncs, losing
// what the promoted node lacks. No receipt acknowledged at any time is
// lost: the gateways find their put numbers gone back and put again what
// they stored after them.
func TestClusterForcedFailover(t *testing.T) {
	for _, how := range []string{"FORCE", "TAKEOVER"} {
		t.Run(how, func(t *testing.T) {
			const (
				n          = 600 // per account: 10 s at 60/s
				pace       = time.Second / 60
				failoverAt = 3 * time.Second
			)
			c := startClusterGateways(t)
			cl, accts, gws, victim := c.cl, c.accts, c.gws, c.victim
			replicas := cl.replicasOf(victim)
			if len(replicas) == 0 {
				t.Fatalf("no replica of %s:\n%s", victim.addr(), cl.describe())
			}
			slot := -1
			for _, a := range accts {
				if s := cl.keySlot("{" + a.sys + "}"); cl.masterOf(s) == victim {
					slot = s
				}
			}

			start := time.Now()
			runs, loadDone := startLoad(t, gws, accts, n, pace, 40_000_000)
			time.Sleep(time.Until(start.Add(failoverAt)))
			ctx, cancel := shortCtx()
			err := nodeClient(t, replicas[0].addr(), "").Do(ctx, "cluster", "failover", how).Err()
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			asked := time.Now()
			_, promoted, ok := cl.waitPromoted(slot, victim, 30*time.Second)
			if !ok {
				t.Fatalf("no promotion 30 s after CLUSTER FAILOVER %s:\n%s", how, cl.describe())
			}
			<-loadDone
			lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
			wentBack, replayed := wentBackSum(gws)
			t.Logf("cluster failover %s: asked %v into the load, promoted %v later; %d acknowledged; went back %v times, %v receipts put again; lost per account: {%s}",
				how, asked.Sub(start).Round(time.Millisecond), promoted.Sub(asked).Round(time.Millisecond), accepted, wentBack, replayed, fmtCounts(lost))
			if len(lost) > 0 {
				t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
			}
		})
	}
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

// TestGatewayOnSentinelMasksPasswords: a gateway on a Sentinel set with a
// password on the Sentinels and another on the data nodes delivers
// receipts before and after a failover (SIGKILL of the master), and
// neither password appears anywhere in its log (INFO level: the start-up
// line names the URL, the Redis client logs the master switch).
func TestGatewayOnSentinelMasksPasswords(t *testing.T) {
	ss := startSentinelSet(t, 2)
	acct := account{"acct001", "pw001"}
	env := mergeEnv(topoEnv(ss.URL(), writeAccounts(t, []account{acct})), map[string]string{"LOG_LEVEL": "INFO"})
	g := startGW(t, "gw-a", env)
	rc := newReceipts()
	trx := dialAs(t, g.smppAddr, acct, pdu.CmdBindTransceiver, rc)
	before := acceptedIDs(t, submitAll(t, trx, invalidNumbers(80_000_000, 50), 16, 0, 30*time.Second))
	if m := rc.waitAll(before, 15*time.Second); m > 0 {
		t.Fatalf("%d of %d receipts missing before the failover", m, len(before))
	}
	old := ss.master()
	if err := old.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := ss.waitFailover(old, 30*time.Second); !ok {
		t.Fatalf("no failover 30 s after the kill: %s", ss.describe())
	}
	after := acceptedIDs(t, submitAll(t, trx, invalidNumbers(80_100_000, 50), 16, 0, 30*time.Second))
	if m := rc.waitAll(after, 15*time.Second); m > 0 || len(after) == 0 {
		t.Fatalf("after the failover: %d accepted, %d receipts missing", len(after), m)
	}
	logs := g.p.logs()
	for _, secret := range []string{ss.pass, ss.sentPw} {
		if strings.Contains(logs, secret) {
			t.Errorf("the gateway's log contains the password %q", secret)
		}
	}
	if !strings.Contains(logs, `"redis_url":"redis-sentinel://:****@`) || !strings.Contains(logs, "sentinel_password=****") {
		t.Errorf("the start-up line does not show the masked URL:\n%s", g.p.tail(40))
	}
	t.Logf("sentinel: %d receipts before and %d after the failover; the log names the URL as %s", len(before), len(after),
		redisconn.Redact(ss.URL()))
}

// TestPausedRedisSubmitsAnswered: Redis is paused (SIGSTOP: connections
// stay open, nothing answers) for 3 s while an account submits 100/s with
// REDIS_TIMEOUT_SECONDS=0.5. Every submit_sm is answered, and every
// accepted message's receipt arrives once Redis resumes. The time the
// answers took is logged.
func TestPausedRedisSubmitsAnswered(t *testing.T) {
	const (
		n       = 600 // 6 s at 100/s
		pace    = 10 * time.Millisecond
		pauseAt = 2 * time.Second
		pauseL  = 3 * time.Second
	)
	rs := startRedis(t)
	acct := account{"acct001", "pw001"}
	g := startGW(t, "gw-a", topoEnv(rs.URL(), writeAccounts(t, []account{acct})))
	rc := newReceipts()
	dialAs(t, g.smppAddr, acct, pdu.CmdBindReceiver, rc)
	tx := dialAs(t, g.smppAddr, acct, pdu.CmdBindTransmitter, nil)
	l := &loadRun{acct: acct, rc: rc}
	done := make(chan struct{})
	start := time.Now()
	go func() { l.pace(tx, invalidNumbers(90_000_000, n), pace, 256, 30*time.Second); close(done) }()
	time.Sleep(time.Until(start.Add(pauseAt)))
	if err := rs.pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	time.Sleep(pauseL)
	if err := rs.resume(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	<-done
	var lat []time.Duration
	l.mu.Lock()
	for _, r := range l.results {
		if !r.sent.Before(paused) && r.sent.Before(resumed) && r.err == nil {
			lat = append(lat, r.at.Sub(r.sent))
		}
	}
	l.mu.Unlock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	all := l.tally(time.Time{}, time.Time{})
	if len(lat) == 0 {
		t.Fatalf("no submit answered while Redis was paused: %s", fmtTally(all))
	}
	t.Logf("paused Redis: %s; %d submits sent during the %v pause answered in p50 %v, max %v (REDIS_TIMEOUT_SECONDS=0.5)",
		fmtTally(all), len(lat), pauseL, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	for k := range all {
		if strings.HasPrefix(k, "error") {
			t.Fatalf("submit_sm without a response: %s", fmtTally(all))
		}
	}
	if m := rc.waitAll(l.accepted(time.Time{}, time.Time{}), 20*time.Second); m > 0 {
		t.Errorf("%d accepted messages got no receipt after Redis resumed", m)
	}
}

// killedWithLeases sets up two gateways on one Redis
// (DLR_VISIBILITY_TIMEOUT_SECONDS=60) where the only receiver of an
// account is bound to A and, after answering 20 receipts, holds every
// deliver_sm unanswered; 200 messages are submitted on B, and A is killed
// with SIGKILL while it holds leases. It returns the accepted ids, the
// receipts answered so far, both gateways and the account.
func killedWithLeases(t *testing.T) (ids map[string]bool, rc *receipts, a, b *gw, acct account, rs *redisServer) {
	t.Helper()
	return stoppedWithLeases(t, func(a *gw) { a.p.kill(t) })
}

// stoppedWithLeases is killedWithLeases stopping A with stop.
func stoppedWithLeases(t *testing.T, stop func(a *gw)) (ids map[string]bool, rc *receipts, a, b *gw, acct account, rs *redisServer) {
	t.Helper()
	const n = 200
	rs = startRedis(t, "--appendfsync", "always")
	acct = account{"acct001", "pw001"}
	env := mergeEnv(topoEnv(rs.URL(), writeAccounts(t, []account{acct})), map[string]string{
		"DLR_VISIBILITY_TIMEOUT_SECONDS": "60", "SMPP_RESPONSE_TIMEOUT_SECONDS": "10",
		// What is tested is the leases, not Redis timeouts: with fsync on
		// every write, a loaded machine can take longer than the default
		// 0.5 s, and the receipts would then wait in the outage buffer.
		"REDIS_TIMEOUT_SECONDS": "2",
	})
	// A runs with the default INSTANCE_ID (host name and SMPP port), as an
	// operator who sets none would: its restart must still be recognised.
	a, b = startGW(t, "gw-a", mergeEnv(env, map[string]string{"INSTANCE_ID": ""})), startGW(t, "gw-b", env)
	rc = newReceipts()
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	answered := 0 // only the receiver's reader goroutine touches it
	stuck := newReceipts()
	onDeliver := func(d *pdu.DeliverSM) pdu.Status {
		if answered < 20 {
			answered++
			return rc.onDeliver(d)
		}
		stuck.onDeliver(d)
		<-gate
		return pdu.StatusOK
	}
	rxA := dialWith(t, a.smppAddr, acct, pdu.CmdBindReceiver, onDeliver)
	tx := dialAs(t, b.smppAddr, acct, pdu.CmdBindTransmitter, nil)
	ids = acceptedIDs(t, submitAll(t, tx, invalidNumbers(70_000_000, n), 64, 0, 30*time.Second))
	if !waitFor(10*time.Second, func() bool { d, _, _ := stuck.counts(); return d > 0 }) {
		t.Fatal("A never sent a deliver_sm past the answered ones")
	}
	stop(a)
	_ = rxA.Close()
	return ids, rc, a, b, acct, rs
}

// TestGatewayStoppedGivesBackLeases: A, stopped by SIGTERM while its
// receiver leaves deliver_sm unanswered, gives its leases back as it
// exits; B, with a receiver bound, delivers every undelivered receipt at
// once. They waited for A's heartbeat to expire: at least 6 s after the
// exit (A writes it until it stops, it lasts 6 s, then 2 s more).
func TestGatewayStoppedGivesBackLeases(t *testing.T) {
	ids, rc, _, b, acct, _ := stoppedWithLeases(t, func(a *gw) {
		if !a.p.signal(t, syscall.SIGTERM, 30*time.Second) {
			t.Fatal("A did not exit within 30 s of SIGTERM")
		}
	})
	deliveredWithin(t, ids, rc, b, acct, time.Now(), 4*time.Second, "leased by the stopped gateway, after its exit, by the other")
}

// TestGatewayKillRestartTakesBackLeases: A, killed while holding leases,
// is restarted (same host and SMPP port, so the same default INSTANCE_ID)
// and delivers every undelivered receipt within 5 s of being ready again
// (the leases run for 60 s; the dead process's heartbeat lasts 6 s).
func TestGatewayKillRestartTakesBackLeases(t *testing.T) {
	ids, rc, a, _, acct, _ := killedWithLeases(t)
	a.start()
	deliveredWithin(t, ids, rc, a, acct, time.Now(), 5*time.Second, "leased by the killed gateway, after its restart, by itself")
}

// TestGatewayKilledLeasesTakenByOther: A, killed while holding leases,
// stays down; B, with a receiver bound, delivers every undelivered
// receipt once A's heartbeat has expired (seconds), not after the 60 s
// lease.
func TestGatewayKilledLeasesTakenByOther(t *testing.T) {
	ids, rc, _, b, acct, _ := killedWithLeases(t)
	deliveredWithin(t, ids, rc, b, acct, time.Now(), 20*time.Second, "leased by the killed gateway, after the kill, by the other")
}

// deliveredWithin binds a receiver of acct to g and checks that every
// receipt of ids arrives within d (rc counts them); since is when the
// wait began, for the log.
func deliveredWithin(t *testing.T, ids map[string]bool, rc *receipts, g *gw, acct account, since time.Time, d time.Duration, what string) {
	t.Helper()
	_, before, _ := rc.counts()
	dialAs(t, g.smppAddr, acct, pdu.CmdBindReceiver, rc)
	missing := rc.waitAll(ids, d)
	t.Logf("receipts %s: %d accepted, %d answered before; %d missing %v after, the last arrived %v after (lease 60 s)",
		what, len(ids), before, missing, d, rc.lastFirst(ids).Sub(since).Round(time.Millisecond))
	if missing > 0 {
		t.Errorf("%d receipts %s not delivered within %v", missing, what, d)
	}
}

// TestGatewayRestartedWhileRedisPausedTakesBackLeases: as above, but Redis
// does not answer when A restarts (paused with SIGSTOP), so its take-back
// at start fails; B is stopped first, so no other instance can take A's
// leases. A takes them back once Redis answers again and delivers every
// undelivered receipt within 5 s of being ready, not after the 60 s
// lease (it used to try once, at start).
func TestGatewayRestartedWhileRedisPausedTakesBackLeases(t *testing.T) {
	ids, rc, a, b, acct, rs := killedWithLeases(t)
	b.p.kill(t)
	if err := rs.pause(); err != nil {
		t.Fatal(err)
	}
	paused := true
	defer func() {
		if paused {
			_ = rs.resume()
		}
	}()
	a.p = startProc(t, "gateway "+a.name, a.logPath, a.procEnv(), gwBin, "serve")
	if !waitFor(30*time.Second, func() bool { return strings.Contains(a.p.logs(), "dlr.leases_not_taken_back") }) {
		t.Fatalf("A did not report its failed take-back with Redis paused:\n%s", a.p.tail(40))
	}
	if err := rs.resume(); err != nil {
		t.Fatal(err)
	}
	paused = false
	if !a.waitReady(15 * time.Second) {
		t.Fatalf("A not ready after Redis came back:\n%s", a.p.tail(40))
	}
	ready := time.Now()
	dialAs(t, a.smppAddr, acct, pdu.CmdBindReceiver, rc)
	missing := rc.waitAll(ids, 5*time.Second)
	t.Logf("restart with Redis paused: %d accepted, %d still missing 5 s after A was ready, the last arrived %v after (lease 60 s)",
		len(ids), missing, rc.lastFirst(ids).Sub(ready).Round(time.Millisecond))
	if missing > 0 {
		t.Errorf("%d receipts not delivered within 5 s of Redis answering again", missing)
	}
}
