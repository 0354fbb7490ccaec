package system

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// bindAs binds systemID/password; the error is a *esme.BindError when the
// gateway refused.
func bindAs(t *testing.T, addr, systemID, password string, mode pdu.CommandID) (*esme.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: systemID, Password: password, Bind: mode})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func bindStatus(err error) pdu.Status {
	var be *esme.BindError
	if errors.As(err, &be) {
		return be.Status
	}
	if err != nil {
		return pdu.StatusSysErr
	}
	return pdu.StatusOK
}

// TestSIGHUPReloadsAccounts: SIGHUP reloads the accounts file and the
// process goes on; an invalid file changes nothing.
func TestSIGHUPReloadsAccounts(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeFile(t, file, "accounts:\n  - {system_id: alice, password: a}\n")
	g := startGW(t, "gw-hup", map[string]string{"SMPP_ACCOUNTS_FILE": file})
	alice, err := bindAs(t, g.smppAddr, "alice", "a", pdu.CmdBindTransmitter)
	if err != nil {
		t.Fatal(err)
	}
	if st := bindStatus(func() error { _, err := bindAs(t, g.smppAddr, "bob", "b", pdu.CmdBindTransmitter); return err }()); st != pdu.StatusInvSysID {
		t.Fatalf("bob before the reload: %v", st)
	}

	writeFile(t, file, "accounts:\n  - {system_id: alice, password: a}\n  - {system_id: bob, password: b}\n")
	if g.p.signal(t, syscall.SIGHUP, 0) {
		t.Fatal("the gateway exited on SIGHUP")
	}
	if !waitFor(10*time.Second, func() bool {
		_, err := bindAs(t, g.smppAddr, "bob", "b", pdu.CmdBindTransmitter)
		return err == nil
	}) {
		t.Fatal("bob cannot bind after SIGHUP")
	}

	writeFile(t, file, "accounts: [{system_id: \"\"}]\n")
	if g.p.signal(t, syscall.SIGHUP, 0) {
		t.Fatal("the gateway exited on SIGHUP with an invalid file")
	}
	if !waitFor(10*time.Second, func() bool { v, _ := g.metric(`config_reload_total{result="failure"}`); return v == 1 }) {
		t.Fatalf("config_reload_total{result=\"failure\"} did not reach 1:\n%s", g.p.tail(10))
	}
	if st, _, err := alice.Submit(context.Background(), submitSM("409900000001")); err != nil || st != pdu.StatusOK {
		t.Fatalf("alice's session after two reloads: %v %v", st, err)
	}
	if _, err := bindAs(t, g.smppAddr, "bob", "b", pdu.CmdBindTransmitter); err != nil {
		t.Fatalf("bob after a failed reload: %v", err)
	}
	if s, _ := g.metric(`config_reload_total{result="success"}`); s != 1 {
		t.Fatalf("config_reload_total{result=\"success\"} = %v, want 1", s)
	}
	if !g.p.running() {
		t.Fatal("the gateway is not running")
	}
}

// TestSharedLimitsTwoInstances: two instances sharing a Redis hold one
// account's max_binds and throughput together, and fall back to their own
// limits when Redis goes away.
func TestSharedLimitsTwoInstances(t *testing.T) {
	const (
		rate    = 100.0 // the account's throughput
		offered = 150   // per instance, per second
		run     = 10 * time.Second
		warmup  = 2 * time.Second // the burst allowance is spent by then
	)
	rs := startRedis(t)
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeFile(t, file, "accounts:\n  - {system_id: acme, password: pw, max_binds: 2, throughput: 100}\n")
	env := map[string]string{"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"SMPP_ACCOUNTS_FILE": file, "SMPP_BIND_LEASE_SECONDS": "3", "DLR_DELAY_SECONDS": "0.2", "ADMIN_TOKEN": "tok"}
	a := startGW(t, "gw-a", env)
	b := startGW(t, "gw-b", env)

	txA, err := bindAs(t, a.smppAddr, "acme", "pw", pdu.CmdBindTransmitter)
	if err != nil {
		t.Fatal(err)
	}
	txB, err := bindAs(t, b.smppAddr, "acme", "pw", pdu.CmdBindTransmitter)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []*gw{a, b} {
		_, err := bindAs(t, g.smppAddr, "acme", "pw", pdu.CmdBindReceiver)
		if st := bindStatus(err); st != pdu.StatusBindFail {
			t.Fatalf("third bind on %s with max_binds 2: %v, want ESME_RBINDFAIL", g.name, st)
		}
	}

	// Each instance counts its own bind and both, and status prints them.
	for _, g := range []*gw{a, b} {
		out, err := exec.Command(gwBin, "status", "--addr", g.metricsAddr, "--token", "tok").CombinedOutput()
		if err != nil {
			t.Fatalf("status on %s: %v\n%s", g.name, err, out)
		}
		// SYSTEM_ID MAX_BINDS THROUGHPUT BINDS CLUSTER_BINDS …
		if !regexp.MustCompile(`(?m)^acme +2 +100/s +1 +2 `).Match(out) {
			t.Fatalf("status on %s does not show 1 bind here and 2 in the cluster:\n%s", g.name, out)
		}
	}

	// 150/s offered on each instance for 10 s.
	start := time.Now().Add(50 * time.Millisecond)
	results := offerEvenly(t, []*esme.Client{txA, txB}, offered, run, start,
		func(i int) pdu.Body { return submitSM(invalidNumbers(i, 1)[0]) })
	counts := map[pdu.Status]int{}
	inWindow := 0
	from, to := start.Add(warmup), start.Add(run)
	for _, r := range results {
		counts[r.status]++
		if r.status == pdu.StatusOK && !r.at.Before(from) && r.at.Before(to) {
			inWindow++
		}
	}
	got := float64(inWindow) / to.Sub(from).Seconds()
	t.Logf("two instances, throughput %v, %d/s offered on each for %v: %d answers (%d accepted, %d throttled, %d other); accepted %.1f/s between %v and %v",
		rate, offered, run, len(results), counts[pdu.StatusOK], counts[pdu.StatusThrottled],
		len(results)-counts[pdu.StatusOK]-counts[pdu.StatusThrottled], got, warmup, run)
	callsA, _ := a.metric(`smpp_shared_limits_redis_calls_total{kind="reserve",result="ok"}`)
	callsB, _ := b.metric(`smpp_shared_limits_redis_calls_total{kind="reserve",result="ok"}`)
	t.Logf("throughput reservations in Redis: A=%v B=%v for %d submits", callsA, callsB, len(results))
	// The limit must hold: more than 10 % over it means the instances did
	// not share it. Under it is what a loaded machine (a full -race suite
	// beside this test) does to the client's offered rate and to Redis
	// round trips, so only a rate far under the limit fails; the ±10 %
	// figure on a quiet machine is recorded in docs/admin.md.
	if got > rate*1.1 {
		t.Fatalf("accepted %.1f/s across both instances, want at most %v +10%%", got, rate)
	}
	if got < rate*0.5 {
		t.Fatalf("accepted %.1f/s across both instances, want about %v", got, rate)
	}

	// A bind released on one instance is free for the other.
	if err := txA.Unbind(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool {
		c, err := bindAs(t, b.smppAddr, "acme", "pw", pdu.CmdBindReceiver)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}) {
		t.Fatal("the lease released on A never became free on B")
	}

	// Without Redis both fall back to their own limits and say so.
	if err := rs.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { _, body := b.readyz(); return strings.Contains(body, "shared_limits: degraded") }) {
		_, body := b.readyz()
		t.Fatalf("/readyz on B does not report the fallback:\n%s", body)
	}
	if v, _ := b.metric("smpp_shared_limits_degraded"); v != 1 {
		t.Fatalf("smpp_shared_limits_degraded = %v on B, want 1", v)
	}
	if _, err := bindAs(t, a.smppAddr, "acme", "pw", pdu.CmdBindTransmitter); err != nil {
		t.Fatalf("bind on A without Redis (one bind here, max 2): %v", err)
	}
}

// answered is one answer of offerEvenly.
type answered struct {
	status pdu.Status
	body   pdu.Body
	at     time.Time
}

// offerEvenly sends perSecond requests a second on each client for run,
// the i-th due at start + i/perSecond, and returns every answer once all
// are in (failing the test if they are not within run + 30 s).
func offerEvenly(t *testing.T, clients []*esme.Client, perSecond int, run time.Duration, start time.Time, request func(i int) pdu.Body) []answered {
	t.Helper()
	var mu sync.Mutex
	var results []answered
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			n := int(run.Seconds() * float64(perSecond))
			for i := range n {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(perSecond))))
				wg.Add(1)
				c.SendAsync(request(i), func(p pdu.PDU, err error) {
					defer wg.Done()
					if err != nil {
						return
					}
					mu.Lock()
					results = append(results, answered{p.Status, p.Body, time.Now()})
					mu.Unlock()
				})
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(run + 30*time.Second):
		t.Fatal("not every request was answered")
	}
	mu.Lock()
	defer mu.Unlock()
	return results
}

// TestSharedThroughputCountsMultiDestinations: two instances sharing a
// Redis hold one account's throughput together when it sends submit_multi,
// each destination counting one message.
func TestSharedThroughputCountsMultiDestinations(t *testing.T) {
	const (
		rate   = 100.0 // the account's throughput, messages per second
		multis = 15    // per instance, per second
		dests  = 5     // per multi: 150 destinations/s offered in all
		run    = 8 * time.Second
		warmup = 2 * time.Second
	)
	rs := startRedis(t)
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeFile(t, file, "accounts:\n  - {system_id: acme, password: pw, throughput: 100}\n")
	env := map[string]string{"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"SMPP_ACCOUNTS_FILE": file, "DLR_DELAY_SECONDS": "0.2"}
	a := startGW(t, "gw-a", env)
	b := startGW(t, "gw-b", env)
	var clients []*esme.Client
	for _, g := range []*gw{a, b} {
		c, err := bindAs(t, g.smppAddr, "acme", "pw", pdu.CmdBindTransmitter)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	start := time.Now().Add(50 * time.Millisecond)
	results := offerEvenly(t, clients, multis, run, start, func(i int) pdu.Body {
		m := &pdu.SubmitMulti{Source: pdu.Address{TON: 5, Addr: "ACME"}, ShortMessage: "x"}
		for _, n := range invalidNumbers(i*dests, dests) {
			m.Dests = append(m.Dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: n}})
		}
		return m
	})
	accepted, throttled, other := 0, 0, 0
	from, to := start.Add(warmup), start.Add(run)
	for _, r := range results {
		switch r.status {
		case pdu.StatusOK:
			resp, ok := r.body.(*pdu.SubmitMultiResp)
			if !ok {
				t.Fatalf("a submit_multi answered ESME_ROK with %T", r.body)
			}
			if !r.at.Before(from) && r.at.Before(to) {
				accepted += dests - len(resp.Unsuccess)
			}
		case pdu.StatusThrottled:
			throttled++
		default:
			other++
		}
	}
	got := float64(accepted) / to.Sub(from).Seconds()
	t.Logf("two instances, throughput %v, %d multis of %d a second offered on each: %d answers (%d throttled, %d other); %.1f destinations/s accepted between %v and %v",
		rate, multis, dests, len(results), throttled, other, got, warmup, run)
	if other > 0 {
		t.Errorf("%d submit_multi answered neither ESME_ROK nor ESME_RTHROTTLED", other)
	}
	// As in TestSharedLimitsTwoInstances: over by more than 10 % means the
	// destinations were not counted, or not across instances.
	if got > rate*1.1 {
		t.Fatalf("accepted %.1f destinations/s across both instances, want at most %v +10%%", got, rate)
	}
	if got < rate*0.5 {
		t.Fatalf("accepted %.1f destinations/s across both instances, want about %v", got, rate)
	}
}
