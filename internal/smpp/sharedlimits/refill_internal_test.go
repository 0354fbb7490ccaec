package sharedlimits

import (
	"context"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// TestDebtRefillsGoOnWithoutMessages: a pool that owes a debt after an
// overload, its credit spent (Redis said "not yet"), is paid a batch at a
// time; each reserved batch asks for the next while the debt lasts, so an
// account that then goes idle has paid it when its next burst comes
// (that burst used to find the debt still owed, less one batch, and pass
// only what was left of the credit after it).
func TestDebtRefillsGoOnWithoutMessages(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	l := New(rdb, Options{Prefix: prefix, Instance: "a", LeaseTTL: 30 * time.Second})
	th := l.Throttle("acc", 100).(*throttle)
	ctx := context.Background()
	// Throttle queued a first refill: take it, as the worker would.
	<-l.refills
	th.pending.Store(true)
	th.tokens.Store(-89)
	th.setCredit(0) // "not yet": the debt is paid a batch at a time
	l.refill(ctx, th)
	if got, want := th.tokens.Load(), int64(-89+th.batch()); got != want {
		t.Fatalf("after one refill the pool holds %d, want %d (one batch reserved)", got, want)
	}
	select {
	case next := <-l.refills:
		if next != th {
			t.Fatal("another throttle's refill was queued")
		}
	default:
		t.Fatalf("the debt is %d and no further refill was queued", -th.tokens.Load())
	}
	// Paid off, the pool stops asking.
	th.tokens.Store(int64(th.batch()))
	th.pending.Store(true)
	l.refill(ctx, th)
	select {
	case <-l.refills:
		t.Fatal("a refill was queued for a full pool")
	default:
	}
}
