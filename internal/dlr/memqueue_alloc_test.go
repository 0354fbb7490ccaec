package dlr

import (
	"context"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestMemoryQueueAllocations: in its steady state the memory queue stores
// and acknowledges a receipt of the gateway's form without allocating, and
// a claimed batch costs two allocations whatever its size (the receipts
// and one string for all their ids and addresses).
func TestMemoryQueueAllocations(t *testing.T) {
	const batch = 64
	ctx := context.Background()
	// Enough outcomes remembered that each of the id index's tables holds
	// several dozen ids and keeps its size.
	const remember = 16384
	q := NewMemoryQueue(MemoryOptions{RememberEntries: remember})
	ids := make([]string, 0, 2*remember)
	for i := range cap(ids) {
		ids = append(ids, gatewayID(i))
	}
	now := t0.Add(time.Hour)
	o := Outcome{State: pdu.StateDelivered, At: now}
	next := 0
	put := func() {
		r := Receipt{
			MessageID: ids[next%len(ids)], SystemID: "acme01",
			Source:      pdu.Address{TON: 5, Addr: "ACME"},
			Dest:        pdu.Address{TON: 1, NPI: 1, Addr: "40722570001"},
			SubmittedAt: t0, Err: "000", Reason: "invalid_number",
			DueAt: t0.Add(time.Duration(next) * time.Microsecond), ExpiresAt: t0.Add(24 * time.Hour),
		}
		next++
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var got []Receipt
	claim := func() {
		var err error
		if got, err = q.Claim(ctx, "acme01", now, time.Minute, batch); err != nil || len(got) != batch {
			t.Fatalf("claimed %d, %v", len(got), err)
		}
	}
	ack := func() {
		if err := q.Ack(ctx, o, got...); err != nil {
			t.Fatal(err)
		}
	}
	// Warm up: a few batches pending throughout (so the due heap keeps
	// its size), the ring of outcomes full, the buffers grown.
	for range 4 * batch {
		put()
	}
	for range remember/batch + 16 {
		for range batch {
			put()
		}
		claim()
		ack()
	}
	tests := []struct {
		name string
		op   func()
		want float64
	}{
		{"put", put, 0},
		{"claim of a batch", func() {
			for range batch {
				put()
			}
			claim()
			ack()
		}, 2},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(20, tt.op); n != tt.want {
			t.Errorf("%s: %v allocations, want %v", tt.name, n, tt.want)
		}
	}
}
