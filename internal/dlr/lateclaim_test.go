package dlr

import (
	"context"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// slowClaimQueue is a memory queue whose claims of one account wait
// until go is closed (a Cluster master that hangs, then answers), and
// then claim as usual.
type slowClaimQueue struct {
	*MemoryQueue
	sys     string
	claimed chan struct{} // closed at the account's first claim
	goOn    chan struct{}
}

func (q *slowClaimQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, error) {
	if sys == q.sys {
		select {
		case <-q.claimed:
		default:
			close(q.claimed)
		}
		select {
		case <-q.goOn:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return q.MemoryQueue.Claim(ctx, sys, now, lease, n)
}

// TestSlowClaimIsLeftToFinish: with ClaimWait set, a claim that does not
// answer holds its loop's other accounts no longer than that: another
// account's receipt goes out while the claim still waits; once the claim
// answers, the loop sends what it claimed. With ClaimTimeout an hour, a
// loop that waited for the claim would hold the other account that long.
func TestSlowClaimIsLeftToFinish(t *testing.T) {
	q := &slowClaimQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), sys: "slow", claimed: make(chan struct{}), goOn: make(chan struct{})}
	h := newHarness(t, q, func(o *Options) {
		o.Shards = 1 // both accounts on one loop
		o.OpTimeout = time.Hour
		o.ClaimTimeout = time.Hour
		o.ClaimWait = 20 * time.Millisecond
	})
	released := false
	t.Cleanup(func() {
		if !released {
			close(q.goOn) // before the harness stops
		}
	})
	h.s.setAuto(pdu.StatusOK)
	h.d.ReceiversChanged("slow", 1)
	h.schedule(receipt("00000000000000A0", "slow", 0))
	select {
	case <-q.claimed:
	case <-time.After(10 * time.Second):
		t.Fatal("no claim of the slow account")
	}
	h.clk.Advance(20 * time.Millisecond) // the loop's wait for the claim ends
	h.d.ReceiversChanged("ok", 1)
	h.schedule(receipt("00000000000000B1", "ok", 0))
	if got := h.s.next(t); got.id() != "00000000000000B1" {
		t.Fatalf("delivered %s while the slow claim waited, want the other account's receipt", got.id())
	}
	if n := metric(t, h.reg, "dlr_claims_left"); n != 1 {
		t.Fatalf("dlr_claims_left = %v while the slow claim runs, want 1", n)
	}
	close(q.goOn)
	released = true
	if got := h.s.next(t); got.id() != "00000000000000A0" {
		t.Fatalf("delivered %s once the slow claim answered, want its receipt", got.id())
	}
	h.settle()
	if n := metric(t, h.reg, "dlr_claims_left"); n != 0 {
		t.Fatalf("dlr_claims_left = %v once the claim's result was taken, want 0", n)
	}
	if n := len(h.s.sent); n != 0 {
		t.Fatalf("%d more deliver_sm sent, want none (each receipt once)", n)
	}
}

// TestSettledIdsOfAClaimingAccountStayHeld: while a claim of one account
// is left to finish, the ids of that account settled meanwhile stay held
// (the claim may return them), and the other accounts' are forgotten as
// usual; once the claim's result is taken, the first are forgotten too.
func TestSettledIdsOfAClaimingAccountStayHeld(t *testing.T) {
	s := newShard(&Dispatcher{}, 0)
	s.claiming["slow"] = true
	s.held["a1"], s.held["b1"] = struct{}{}, struct{}{}
	s.settled = []settledID{{id: "a1", sys: "slow"}, {id: "b1", sys: "ok"}}
	s.forgetSettledLocked()
	if _, ok := s.held["a1"]; !ok || len(s.held) != 1 || len(s.settled) != 1 {
		t.Fatalf("held %v, settled %v with a claim of slow left; want a1 held and still settled", s.held, s.settled)
	}
	delete(s.claiming, "slow")
	s.forgetSettledLocked()
	if len(s.held) != 0 || len(s.settled) != 0 {
		t.Fatalf("held %v, settled %v once the claim's result was taken; want both empty", s.held, s.settled)
	}
}
