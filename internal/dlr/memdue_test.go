package dlr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestMemDuePlacement checks where receipts go by the order of their due
// times, and that the earliest comes first whatever holds it.
func TestMemDuePlacement(t *testing.T) {
	cases := []struct {
		name  string
		keys  []int64 // put in this order
		where []uint8 // where each one went
	}{
		{"in order", []int64{1, 2, 2, 3}, []uint8{memInPuts, memInPuts, memInPuts, memInPuts}},
		{"one early", []int64{5, 6, 4, 7}, []uint8{memInPuts, memInPuts, memInHeap, memInPuts}},
		{"descending", []int64{3, 2, 1}, []uint8{memInPuts, memInHeap, memInHeap}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s memStore
			d := newMemDue(&s)
			for i, k := range c.keys {
				ref := s.alloc()
				s.at(ref).flags = memPending
				d.push(ref, k)
				if got := s.at(ref).flags & memWhere; got != c.where[i] {
					t.Errorf("receipt %d (due %d) went to %d, want %d", i, k, got, c.where[i])
				}
			}
			last := int64(-1)
			for d.len() > 0 {
				x, where := d.first()
				if x.key < last {
					t.Fatalf("due %d came after %d", x.key, last)
				}
				last = x.key
				if where == memInHeap {
					d.heap.remove(0)
				} else {
					d.lane(where).popFront()
				}
			}
		})
	}
}

// TestMemLaneRemovesAndPacks removes slots of a lane from the middle, the
// head and the tail, and checks its order, its dead count and the
// sequence numbers its entries keep, through the packing of dead slots
// and the shrinking of the ring.
func TestMemLaneRemovesAndPacks(t *testing.T) {
	cases := []struct {
		name   string
		n      int
		remove func(i int) bool // which slots, by the order they were pushed
	}{
		{"every other", 5000, func(i int) bool { return i%2 == 1 }},
		{"all but every tenth", 5000, func(i int) bool { return i%10 != 0 }},
		{"the first half", 5000, func(i int) bool { return i < 2500 }},
		{"the last half", 5000, func(i int) bool { return i >= 2500 }},
		{"all", 300, func(int) bool { return true }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s memStore
			l := memLane{s: &s}
			refs := make([]memRef, c.n)
			for i := range refs {
				refs[i] = s.alloc()
				if !l.push(refs[i], s.at(refs[i]), int64(i)) {
					t.Fatalf("push %d refused", i)
				}
			}
			if l.push(s.alloc(), &memEntry{}, -1) {
				t.Fatal("a slot due before the tail was taken")
			}
			want := []memRef{}
			for i, ref := range refs {
				if c.remove(i) {
					l.remove(uint32(s.at(ref).pos))
				} else {
					want = append(want, ref)
				}
			}
			var got []memRef
			for seq := l.head; seq != l.tail; seq++ {
				x := *l.at(seq)
				if x.ref == memNoRef {
					continue
				}
				if uint32(s.at(x.ref).pos) != seq {
					t.Fatalf("entry %d says %d, is at %d", x.ref, s.at(x.ref).pos, seq)
				}
				got = append(got, x.ref)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || l.live() != len(want) {
				t.Fatalf("left %v (%d live), want %v", got, l.live(), want)
			}
			if l.dead >= memLaneMinDead && 2*l.dead > l.size() {
				t.Errorf("%d dead of %d slots, not packed", l.dead, l.size())
			}
			if len(l.a) > memLaneKeep && l.size() < len(l.a)/4 {
				t.Errorf("%d slots in a ring of %d", l.size(), len(l.a))
			}
		})
	}
}

// TestMemoryQueueAckHint acknowledges claimed receipts whose entries were
// forgotten and reused for another id, or renumbered by a compaction,
// since the claim: the hint Claim left in them must not end the receipt
// that holds the entry now.
func TestMemoryQueueAckHint(t *testing.T) {
	ctx := context.Background()
	ids := func(from, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%016X", from+i)
		}
		return out
	}
	delivered := Outcome{State: pdu.StateDelivered, At: t0}
	// claimAB puts A and B (entries 0 and 1), claims both and cancels A:
	// A's entry is free, B's claimed.
	claimAB := func(t *testing.T, q *MemoryQueue) []Receipt {
		putAll(t, q, ids(0, 2))
		got, _ := q.Claim(ctx, "acme", t0.Add(time.Hour), time.Minute, 2)
		if len(got) != 2 || got[0].MessageID != ids(0, 1)[0] {
			t.Fatalf("claimed %v", got)
		}
		if ok, _ := q.Cancel(ctx, "acme", got[0].MessageID, t0.Add(2*time.Hour)); !ok { // its lease is over
			t.Fatal("not cancelled")
		}
		return got
	}
	cases := []struct {
		name  string
		setup func(t *testing.T, q *MemoryQueue) []Receipt // what to Ack
		want  []string                                     // pending after the Ack
	}{
		{"claimed", func(t *testing.T, q *MemoryQueue) []Receipt {
			got := claimAB(t, q)
			return got[1:]
		}, nil},
		{"entry reused for another id", func(t *testing.T, q *MemoryQueue) []Receipt {
			got := claimAB(t, q)
			putAll(t, q, ids(1000, 1)) // takes A's entry
			return got[:1]
		}, []string{ids(1, 1)[0], ids(1000, 1)[0]}},
		{"entries renumbered", func(t *testing.T, q *MemoryQueue) []Receipt {
			got := claimAB(t, q)
			more := ids(1000, 5*memChunkLen)
			putAll(t, q, more)
			_ = q.Ack(ctx, delivered, receiptsOf(more)...) // compacts: B moves to entry 0
			return got[:1]
		}, []string{ids(1, 1)[0]}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := NewMemoryQueue(MemoryOptions{RememberEntries: -1})
			acks := c.setup(t, q)
			_ = q.Ack(ctx, delivered, acks...)
			for _, id := range c.want {
				if o, ok, _ := q.Lookup(ctx, "acme", id); !ok || o.State != pdu.StateEnroute {
					t.Errorf("%s: %+v %v, want pending", id, o, ok)
				}
			}
			checkMemoryQueue(t, q, len(c.want))
		})
	}
}

func receiptsOf(ids []string) []Receipt {
	rs := make([]Receipt, len(ids))
	for i, id := range ids {
		rs[i] = receipt(id, "acme", 0)
	}
	return rs
}

func putAll(t *testing.T, q *MemoryQueue, ids []string) {
	t.Helper()
	for _, r := range receiptsOf(ids) {
		if err := q.Put(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}
