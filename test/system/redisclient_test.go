package system

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

// These tests drive the gateway's Redis client (package redisconn) against
// real topologies, without a gateway: they check the client side of a
// failover on its own.

// TestClusterClientFollowsPromotion: a client built from a multi-seed
// redis-cluster:// URL writes to every master; one master is killed with
// SIGKILL; once its replica is promoted, the client writes to the
// promoted node without waiting for go-redis's 60 s slot-map reload, and
// writes to the other masters' slots never fail.
func TestClusterClientFollowsPromotion(t *testing.T) {
	cl := startCluster(t, 3)
	rdb, err := redisconn.New(redisconn.Settings{URL: cl.URL(), PoolSize: 4, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()

	// One key per master.
	masters := cl.masters()
	keyOf := map[*redisServer]string{}
	for i := 0; len(keyOf) < len(masters); i++ {
		k := fmt.Sprintf("{probe%d}", i)
		if m := cl.masterOf(cl.keySlot(k)); keyOf[m] == "" {
			keyOf[m] = k
		}
	}
	victim := masters[0]
	victimKey := keyOf[victim]
	set := func(k string) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Set(ctx, k, "v", 0).Err()
	}
	for _, k := range keyOf {
		if err := set(k); err != nil {
			t.Fatalf("SET %s before the kill: %v", k, err)
		}
	}
	slot := cl.keySlot(victimKey)
	if err := victim.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()

	// Keep writing to every shard while the cluster fails over.
	promotedCh := make(chan time.Time, 1)
	go func() {
		_, at, ok := cl.waitPromoted(slot, victim, 30*time.Second)
		if !ok {
			at = time.Time{}
		}
		promotedCh <- at
	}()
	var promoted, firstOK time.Time
	healthyFailures := 0
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for m, k := range keyOf {
			if m == victim {
				continue
			}
			if err := set(k); err != nil {
				healthyFailures++
				t.Logf("SET on healthy shard %s: %v", m.addr(), err)
			}
		}
		select {
		case promoted = <-promotedCh:
			if promoted.IsZero() {
				t.Fatalf("slot %d not promoted 30 s after the kill:\n%s", slot, cl.describe())
			}
		default:
		}
		if !promoted.IsZero() {
			if err := set(victimKey); err == nil {
				firstOK = time.Now()
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if firstOK.IsZero() {
		t.Fatalf("writes to slot %d still fail 30 s after the kill (promoted %v after it)", slot, promoted.Sub(killed))
	}
	t.Logf("cluster client: master %s killed; replica promoted after %v; first write to its slot %v after the promotion",
		victim.addr(), promoted.Sub(killed).Round(time.Millisecond), firstOK.Sub(promoted).Round(time.Millisecond))
	if healthyFailures > 0 {
		t.Errorf("%d writes to healthy shards failed during the failover", healthyFailures)
	}
	// Slot-map reloads are one per second at most: the bound that matters
	// is go-redis's default of a minute, far above the test's deadline.
	if since := firstOK.Sub(promoted); since > 10*time.Second {
		t.Errorf("first write to the promoted node %v after the promotion: the slot map was not reloaded", since)
	}
}

// sentinelClient starts a Sentinel set (two replicas) and a client of its
// redis-sentinel:// URL, and returns a write through it, checked once.
func sentinelClient(t *testing.T) (*sentinelSet, func() error) {
	t.Helper()
	ss := startSentinelSet(t, 2)
	rdb, err := redisconn.New(redisconn.Settings{URL: ss.URL(), PoolSize: 4, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	set := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return rdb.Set(ctx, "probe", "v", 0).Err()
	}
	if err := set(); err != nil {
		t.Fatalf("SET through the Sentinels: %v", err)
	}
	return ss, set
}

// TestSentinelClientWithPasswords: a redis-sentinel:// URL with a
// password on the Sentinels and another on the data nodes reaches the
// master, and after the master is killed with SIGKILL reaches the
// promoted replica.
func TestSentinelClientWithPasswords(t *testing.T) {
	ss, set := sentinelClient(t)
	old := ss.master()
	if err := old.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	nm, promoted, ok := ss.waitFailover(old, 30*time.Second)
	if !ok {
		t.Fatalf("no failover 30 s after the kill: %s", ss.describe())
	}
	if !waitFor(15*time.Second, func() bool { return set() == nil }) {
		t.Fatalf("writes still fail 15 s after the failover to %s: %v", nm.addr(), set())
	}
	t.Logf("sentinel client: master %s killed; %s promoted after %v; writes through the Sentinels succeed %v after the promotion",
		old.addr(), nm.addr(), promoted.Sub(killed).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond))
}

// TestSentinelClientWhileSentinelsDown: with every Sentinel stopped (or
// frozen with SIGSTOP: it accepts connections and answers nothing) and
// the master healthy, a redis-sentinel:// client whose connections were
// all closed (CLIENT KILL on the master: what a timeout, a short stall or
// the idle reaper also do) opens new ones to the master the Sentinels
// last named. go-redis alone asks a Sentinel on every dial and failed
// every command until a Sentinel came back.
func TestSentinelClientWhileSentinelsDown(t *testing.T) {
	for _, how := range []string{"stopped", "frozen"} {
		t.Run(how, func(t *testing.T) {
			ss, set := sentinelClient(t)
			var err error
			master := ss.master() // asked of the Sentinels while they run
			for _, s := range ss.sentinels {
				if how == "stopped" {
					err = s.stop(syscall.SIGTERM)
				} else {
					err = s.pause()
					t.Cleanup(func() { _ = s.resume() })
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := shortCtx()
			defer cancel()
			killed, err := nodeClient(t, master.addr(), ss.pass).ClientKillByFilter(ctx, "TYPE", "normal").Result()
			if err != nil {
				t.Fatalf("CLIENT KILL on the master: %v", err)
			}
			var last error
			ok := waitFor(3*time.Second, func() bool { last = set(); return last == nil })
			if !ok {
				t.Fatalf("writes fail with every Sentinel %s and the master healthy (%d connections closed): %v", how, killed, last)
			}
			for i := range 20 {
				if err := set(); err != nil {
					t.Fatalf("write %d with the Sentinels %s: %v", i, how, err)
				}
			}
		})
	}
}

// TestClientTimeoutOnPausedRedis: with REDIS_TIMEOUT_SECONDS=0.5 a command
// to a paused Redis (SIGSTOP: the socket accepts, nothing answers) fails
// with a timeout set by the client itself, with no deadline in the
// caller's context.
func TestClientTimeoutOnPausedRedis(t *testing.T) {
	rs := startRedis(t)
	rdb, err := redisconn.New(redisconn.Settings{URL: rs.URL(), PoolSize: 2, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rs.pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rs.resume() }()
	// Bound the wait in case the client never times out on its own.
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- rdb.Set(context.Background(), "k", "v", 0).Err() }()
	select {
	case err := <-done:
		t.Logf("paused Redis: SET failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
		var ne interface{ Timeout() bool }
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("SET to a paused Redis: %v, want a timeout", err)
		}
		if !redisconn.IsNodeError(err) {
			t.Errorf("IsNodeError(%v) = false", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("SET to a paused Redis did not return within 30 s")
	}
}
