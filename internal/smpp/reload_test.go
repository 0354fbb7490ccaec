package smpp_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func TestReplaceAccountsWhileBound(t *testing.T) {
	accounts := smpp.NewAccounts([]smpp.Account{
		{SystemID: "keep", Password: "pw"},
		{SystemID: "change", Password: "old", MaxBinds: 3},
		{SystemID: "remove", Password: "pw"},
	})
	ts := startServer(t, smpp.Options{Auth: accounts})
	keep, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "keep", "pw")
	if err != nil {
		t.Fatal(err)
	}
	changed, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "change", "old")
	if err != nil {
		t.Fatal(err)
	}
	removed, err := dial(t, ts.addr, pdu.CmdBindTransceiver, "remove", "pw")
	if err != nil {
		t.Fatal(err)
	}

	res := accounts.Replace([]smpp.Account{
		{SystemID: "keep", Password: "pw"},
		{SystemID: "change", Password: "new", MaxBinds: 1},
		{SystemID: "added", Password: "pw"},
	})
	want := smpp.ReloadResult{Added: []string{"added"}, Removed: []string{"remove"}, Changed: []string{"change"}}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("Replace = %+v, want %+v", res, want)
	}
	if n := ts.srv.UnbindAccount(ctxT(t), "remove"); n != 1 {
		t.Fatalf("UnbindAccount ended %d sessions, want 1", n)
	}
	select {
	case <-removed.Unbound():
	case <-time.After(5 * time.Second):
		t.Fatal("the removed account's session got no unbind")
	}

	// Sessions of kept and changed accounts go on.
	for name, c := range map[string]*esme.Client{"keep": keep, "change": changed} {
		if st, _, err := c.Submit(ctxT(t), submit("4915000000001")); err != nil || st != pdu.StatusOK {
			t.Fatalf("%s: submit after reload: %v %v", name, st, err)
		}
	}
	binds := []struct {
		id, pw string
		want   pdu.Status
	}{
		{"added", "pw", pdu.StatusOK},
		{"remove", "pw", pdu.StatusInvSysID},
		{"change", "old", pdu.StatusInvPaswd},
		{"change", "new", pdu.StatusBindFail}, // max_binds 1, one bound
	}
	for _, b := range binds {
		_, err := dial(t, ts.addr, pdu.CmdBindTransmitter, b.id, b.pw)
		got := pdu.StatusOK
		var be *esme.BindError
		if errors.As(err, &be) {
			got = be.Status
		} else if err != nil {
			t.Fatal(err)
		}
		if got != b.want {
			t.Errorf("bind %s/%s after reload: %v, want %v", b.id, b.pw, got, b.want)
		}
	}
}

func TestReplaceChangesThroughputAtOnce(t *testing.T) {
	accounts := smpp.NewAccounts([]smpp.Account{{SystemID: "acc", Password: "pw", Throughput: 1}})
	ts := startServer(t, smpp.Options{Auth: accounts})
	c, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "acc", "pw")
	if err != nil {
		t.Fatal(err)
	}
	count := func(n int) map[pdu.Status]int {
		m := map[pdu.Status]int{}
		for range n {
			st, _, err := c.Submit(ctxT(t), submit("4915000000001"))
			if err != nil {
				t.Fatal(err)
			}
			m[st]++
		}
		return m
	}
	if got := count(5); got[pdu.StatusThrottled] == 0 {
		t.Fatalf("5 quick submits at 1/s: none throttled (%v)", got)
	}
	if res := accounts.Replace([]smpp.Account{{SystemID: "acc", Password: "pw"}}); !reflect.DeepEqual(res.Changed, []string{"acc"}) {
		t.Fatalf("Replace = %+v", res)
	}
	if got := count(20); got[pdu.StatusThrottled] != 0 {
		t.Fatalf("throughput 0 (unlimited) after reload, still throttled: %v", got)
	}
}

// fakeLeases grants at most the limit across every server that shares it.
type fakeLeases struct {
	mu       sync.Mutex
	held     map[string]map[uint64]bool
	released chan uint64
}

func (f *fakeLeases) Acquire(_ context.Context, id string, session uint64, maxBinds int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.held[id]) >= maxBinds {
		return false
	}
	if f.held[id] == nil {
		f.held[id] = map[uint64]bool{}
	}
	f.held[id][session] = true
	return true
}

func (f *fakeLeases) Release(id string, session uint64) {
	f.mu.Lock()
	delete(f.held[id], session)
	f.mu.Unlock()
	f.released <- session
}

func TestBindLeasesAcquiredAndReleased(t *testing.T) {
	leases := &fakeLeases{held: map[string]map[uint64]bool{}, released: make(chan uint64, 10)}
	accounts := smpp.NewAccounts([]smpp.Account{{SystemID: "acc", Password: "pw", MaxBinds: 5}})
	ts := startServer(t, smpp.Options{Auth: accounts, BindLeases: leases})
	// Another instance holds 4 of the 5 leases.
	for i := range 4 {
		leases.Acquire(context.Background(), "acc", uint64(1000+i), 5)
	}
	c, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "acc", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var be *esme.BindError
	if _, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "acc", "pw"); !errors.As(err, &be) || be.Status != pdu.StatusBindFail {
		t.Fatalf("6th bind cluster-wide: %v, want ESME_RBINDFAIL", err)
	}
	if err := c.Unbind(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leases.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the unbound session's lease was not released")
	}
	if _, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "acc", "pw"); err != nil {
		t.Fatalf("bind after a release: %v", err)
	}
}

// slowLeases is a BindLeases whose Acquire waits until release is closed,
// as a slow Redis would, after saying on asked that a bind waits.
type slowLeases struct {
	asked    chan struct{}
	release  chan struct{}
	released chan uint64
}

func (l *slowLeases) Acquire(context.Context, string, uint64, int) bool {
	l.asked <- struct{}{}
	<-l.release
	return true
}

func (l *slowLeases) Release(_ string, session uint64) { l.released <- session }

// TestBindDuringItsAccountsRemoval: a bind whose password was checked
// before a reload removed its account, and which registers after the
// reload looked for the account's sessions, is refused (its lease given
// back) rather than left bound to an account that no longer exists.
func TestBindDuringItsAccountsRemoval(t *testing.T) {
	leases := &slowLeases{asked: make(chan struct{}, 1), release: make(chan struct{}), released: make(chan uint64, 1)}
	accounts := smpp.NewAccounts([]smpp.Account{{SystemID: "judy", Password: "pw"}, {SystemID: "keep", Password: "pw"}})
	ts := startServer(t, smpp.Options{Auth: accounts, BindLeases: leases})
	bound := make(chan error, 1)
	go func() {
		_, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "judy", "pw")
		bound <- err
	}()
	<-leases.asked // the password is checked; the bind waits for its lease
	accounts.Replace([]smpp.Account{{SystemID: "keep", Password: "pw"}})
	if n := ts.srv.UnbindAccount(ctxT(t), "judy"); n != 0 {
		t.Fatalf("UnbindAccount ended %d sessions, want 0: the bind has not registered", n)
	}
	close(leases.release)
	var be *esme.BindError
	if err := <-bound; !errors.As(err, &be) || be.Status != pdu.StatusBindFail {
		t.Fatalf("a bind of a removed account: %v, want ESME_RBINDFAIL", err)
	}
	select {
	case <-leases.released:
	case <-time.After(5 * time.Second):
		t.Fatal("the refused bind's lease was not given back")
	}
}
