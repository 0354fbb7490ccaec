package dlr

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestMemoryQueueRandomOps runs random operations against the memory queue
// and a plain model of what is pending, checking after each batch that the
// queue agrees with the model and that its indexes agree with each other.
// The id space and the ring are sized so that entries are reused and ring
// slots go stale; the final drain makes the store sparse and compacted.
func TestMemoryQueueRandomOps(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	q := NewMemoryQueue(MemoryOptions{RememberEntries: 300})
	type item struct {
		r      Receipt
		due    time.Time
		leased bool // claimed: due is its lease's end
	}
	pending := map[string]item{}
	systems := []string{"a", "b", "c"}
	id := func() string {
		n := rng.IntN(40_000)
		if n%4 == 0 {
			return fmt.Sprintf("x%d", n)
		}
		return fmt.Sprintf("%016X", n)
	}
	now := t0
	compactions := 0
	for step := range 200_000 {
		now = now.Add(time.Millisecond)
		op := rng.IntN(10)
		if step >= 120_000 { // drained at the end: no more Puts
			op = 5 + rng.IntN(5)
		}
		used := q.store.used
		switch {
		case op < 5 || step < 30_000: // Put; the burst first
			r := receipt(id(), systems[rng.IntN(3)], time.Duration(rng.IntN(1000))*time.Millisecond)
			r.DueAt = now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			r.ExpiresAt = now.Add(time.Duration(10+rng.IntN(2000)) * time.Millisecond)
			if rng.IntN(10) == 0 {
				r.Dest.Addr = fmt.Sprintf("%040d", step) // kept aside
			}
			if err := q.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
			pending[r.MessageID] = item{r, r.DueAt, false}
		case op < 7: // Claim and Ack
			sys := systems[rng.IntN(3)]
			rs, _ := q.Claim(ctx, sys, now, time.Second, 1+rng.IntN(20))
			for _, r := range rs {
				it, ok := pending[r.MessageID]
				if !ok || it.r.SystemID != sys || it.due.After(now) {
					t.Fatalf("step %d: claimed %s (%+v, pending %v)", step, r.MessageID, it, ok)
				}
				assertSameReceiptContent(t, r, it.r)
				pending[r.MessageID] = item{r, now.Add(time.Second), true}
			}
			if len(rs) > 0 && rng.IntN(2) == 0 {
				_ = q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: now}, rs...)
				for _, r := range rs {
					delete(pending, r.MessageID)
				}
			} else if len(rs) > 0 {
				r := rs[0]
				r.Attempts++
				at := now.Add(time.Duration(rng.IntN(500)) * time.Millisecond)
				_ = q.Retry(ctx, r, at)
				pending[r.MessageID] = item{r, at, false}
			}
		case op < 8: // Cancel
			i := id()
			it, ok := pending[i]
			sys := systems[rng.IntN(3)]
			got, _ := q.Cancel(ctx, sys, i, now)
			// A receipt whose lease is not over is being sent: not
			// cancelled.
			if want := ok && it.r.SystemID == sys && !(it.leased && it.due.After(now)); got != want {
				t.Fatalf("step %d: Cancel(%s, %s) = %v, want %v", step, sys, i, got, want)
			}
			if got {
				delete(pending, i)
			}
		case op < 9: // Expire
			rs, _ := q.Expire(ctx, now, 1+rng.IntN(50))
			for _, r := range rs {
				it, ok := pending[r.MessageID]
				if !ok || it.r.ExpiresAt.After(now) {
					t.Fatalf("step %d: expired %s (%+v, pending %v)", step, r.MessageID, it, ok)
				}
				delete(pending, r.MessageID)
			}
		default: // Lookup
			i := id()
			it, ok := pending[i]
			sys := systems[rng.IntN(3)]
			o, found, _ := q.Lookup(ctx, sys, i)
			if ok && it.r.SystemID == sys && (!found || o.State != pdu.StateEnroute || o.Destination != it.r.Dest.Addr) {
				t.Fatalf("step %d: Lookup(%s) of a pending receipt = %+v %v", step, i, o, found)
			}
			if found && o.State == pdu.StateEnroute && (!ok || it.r.SystemID != sys) {
				t.Fatalf("step %d: Lookup(%s) = enroute, not pending", step, i)
			}
		}
		if q.store.used < used {
			compactions++
		}
		if step%20_000 == 0 || step == 199_999 {
			checkMemoryQueue(t, q, len(pending))
		}
	}
	if compactions == 0 {
		t.Error("the store was never compacted")
	}
}

// assertSameReceiptContent is assertSameReceipt without the due time
// (a claimed receipt's DueAt is when it became claimable).
func assertSameReceiptContent(t *testing.T, got, want Receipt) {
	t.Helper()
	got.DueAt = want.DueAt
	assertSameReceipt(t, got, want)
}

// checkMemoryQueue checks the queue's indexes against each other.
func checkMemoryQueue(t *testing.T, q *MemoryQueue, pending int) {
	t.Helper()
	if q.pending != pending {
		t.Fatalf("queue has %d pending, model %d", q.pending, pending)
	}
	inHeaps, live, remembered := 0, 0, 0
	for n, a := range q.accts.list {
		if a == nil {
			continue
		}
		refs := 0
		for i, s := range a.due.heap.a {
			e := q.store.at(s.ref)
			if e.flags&memPending == 0 || e.flags&memWhere != memInHeap || int(e.pos) != i || e.acct != uint32(n) {
				t.Fatalf("heap slot %d of %s names entry %d (%+v)", i, a.id, s.ref, *e)
			}
			if i > 0 && a.due.heap.a[memHeapParent(i)].key > s.key {
				t.Fatalf("heap of %s out of order at %d", a.id, i)
			}
		}
		for _, where := range []uint8{memInPuts, memInLeases} {
			checkMemLane(t, q, a.due.lane(where), where, uint32(n))
		}
		inHeaps += a.due.len()
		for r := memRef(0); r < q.store.used; r++ {
			if e := q.store.at(r); e.flags&(memPending|memRemembered) != 0 && e.acct == uint32(n) {
				refs++
			}
		}
		if refs != a.refs {
			t.Fatalf("account %s counts %d entries, %d name it", a.id, a.refs, refs)
		}
	}
	for r := memRef(0); r < q.store.used; r++ {
		e := q.store.at(r)
		if e.flags&(memPending|memRemembered) == 0 {
			continue
		}
		live++
		if e.flags&memRemembered != 0 {
			remembered++
			if q.finalRing[e.pos] != r {
				t.Fatalf("remembered entry %d not in its ring slot %d", r, e.pos)
			}
		}
		id := q.spill[r]
		var got memRef
		var ok bool
		if e.flags&memSpilledID != 0 {
			got, ok = q.byOther[id.id]
		} else {
			got, ok = q.byID.get(e.id, &q.store)
		}
		if !ok || got != r {
			t.Fatalf("entry %d not found by its id", r)
		}
	}
	if inHeaps != pending || live != q.store.live || remembered > q.finalCap ||
		q.byID.len()+len(q.byOther) != live {
		t.Fatalf("%d in heaps, %d live (store says %d), %d remembered, %d ids indexed",
			inHeaps, live, q.store.live, remembered, q.byID.len()+len(q.byOther))
	}
}

// checkMemLane checks that a lane of account n is in order, that its live
// slots name pending entries of n that say they are there, and that its
// counts agree with its slots.
func checkMemLane(t *testing.T, q *MemoryQueue, l *memLane, where uint8, n uint32) {
	t.Helper()
	dead := 0
	for seq := l.head; seq != l.tail; seq++ {
		s := *l.at(seq)
		if seq != l.head && l.at(seq-1).key > s.key {
			t.Fatalf("lane %d of account %d out of order at %d", where, n, seq)
		}
		if s.ref == memNoRef {
			if seq == l.head {
				t.Fatalf("lane %d of account %d starts with a dead slot", where, n)
			}
			dead++
			continue
		}
		e := q.store.at(s.ref)
		if e.flags&memPending == 0 || e.flags&memWhere != where || uint32(e.pos) != seq || e.acct != n {
			t.Fatalf("lane %d slot %d of account %d names entry %d (%+v)", where, seq, n, s.ref, *e)
		}
	}
	if dead != l.dead || l.size() > len(l.a) {
		t.Fatalf("lane %d of account %d: %d dead slots, counted %d; %d slots in %d", where, n, dead, l.dead, l.size(), len(l.a))
	}
}
