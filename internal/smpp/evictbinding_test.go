package smpp_test

import (
	"context"
	"sync"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// gatedAuth holds the first bind it checks until release is closed,
// telling entered when it starts: a bind being checked (a slow account
// store, or the delay after failed binds).
type gatedAuth struct {
	smpp.Authenticator
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (a *gatedAuth) Authenticate(ctx context.Context, req smpp.BindRequest) (*smpp.AccountState, pdu.Status) {
	first := false
	a.once.Do(func() { first = true })
	if first {
		close(a.entered)
		<-a.release
	}
	return a.Authenticator.Authenticate(ctx, req)
}

// TestUnboundEvictionAnswersABindBeingChecked: at the unbound cap, a new
// connection takes the place of the oldest unbound connection of the
// address holding the most, also one whose bind is being checked; that
// bind is answered before the connection closes. It was closed under it
// with no bind_resp at all. (Passed over instead, such connections let
// an address that binds slowly hold every unbound place.)
func TestUnboundEvictionAnswersABindBeingChecked(t *testing.T) {
	auth := &gatedAuth{Authenticator: smpp.NewAccounts(defaultAccounts()), entered: make(chan struct{}), release: make(chan struct{})}
	ts, reg := startServerOn(t, smpp.Options{MaxConnectionsPerIP: 10, MaxUnboundConnections: 3, Auth: auth}, nil)
	binder := dialFrom(t, attackerIP, ts.addr)
	if _, err := binder.Write(bindFrame(7, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	<-auth.entered
	a2, a3 := dialFrom(t, attackerIP, ts.addr), dialFrom(t, attackerIP, ts.addr)
	if !served(t, a2) || !served(t, a3) {
		t.Fatal("connections within the caps were refused")
	}
	if !served(t, dialFrom(t, goodIP, ts.addr)) {
		t.Fatal("an address holding no unbound connection was refused while another held three")
	}
	close(auth.release)
	p, ok := readPDU(t, binder)
	if !ok || p.Command != pdu.CmdBindTransceiverResp || p.Sequence != 7 || p.Status != pdu.StatusBindFail {
		t.Fatalf("the bind being checked was not answered ESME_RBINDFAIL before the eviction: %+v (%v)", p.Header, ok)
	}
	if _, ok := readPDU(t, binder); ok {
		t.Fatal("the evicted connection stayed open after its bind's answer")
	}
	if !served(t, a2) {
		t.Fatal("a newer connection was evicted instead of the oldest")
	}
	if !waitCond(func() bool {
		return counterValue(t, reg, "smpp_connections_closed_total", "reason", "unbound_evicted") == 1
	}) {
		t.Errorf("smpp_connections_closed_total{reason=\"unbound_evicted\"} = %v, want 1", counterValue(t, reg, "smpp_connections_closed_total", "reason", "unbound_evicted"))
	}
}
