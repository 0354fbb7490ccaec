package dlr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// gatewayID is the n-th message id of an instance as gateway.IDs makes
// them: seconds since the epoch, the instance tag and a counter that
// starts again every second (here after perSecond ids). Like the gateway,
// it allocates the id's string.
func gatewayID(n int) string {
	const perSecond = 80_000
	sec, ctr := uint64(70_000_000+n/perSecond), uint64(n%perSecond)
	var b [16]byte
	return string(appendCanonicalID(b[:0], sec<<32|7<<20|ctr))
}

// BenchmarkMemoryQueueSteady is the memory queue's part of the accept +
// receipt path in its steady state, per receipt: Put, Claim in batches of
// 64 once a few thousand are pending, Ack of each batch, with the default
// DefaultRememberEntries outcomes remembered (each Ack forgets the oldest
// one). The ids are the gateway's, in the order it makes them; one of the
// allocations per receipt is the id's string, made in the loop as the
// gateway makes it.
func BenchmarkMemoryQueueSteady(b *testing.B) {
	const (
		batch   = 64
		pending = 8192
	)
	ctx := context.Background()
	q := NewMemoryQueue(MemoryOptions{})
	dests := make([]string, 1000)
	for i := range dests {
		dests[i] = fmt.Sprintf("4072257%05d", i)
	}
	now := t0.Add(time.Hour)
	o := Outcome{State: pdu.StateDelivered, At: now}
	step := func(i int) {
		r := Receipt{
			MessageID: gatewayID(i), SystemID: "acme01",
			Source:      pdu.Address{TON: 5, Addr: "ACME"},
			Dest:        pdu.Address{TON: 1, NPI: 1, Addr: dests[i%len(dests)]},
			SubmittedAt: t0, Err: "000", Reason: "invalid_number",
			DueAt: t0.Add(time.Duration(i) * time.Microsecond), ExpiresAt: t0.Add(24 * time.Hour),
		}
		if err := q.Put(ctx, r); err != nil {
			b.Fatal(err)
		}
		if i%batch != batch-1 || i < pending {
			return
		}
		got, err := q.Claim(ctx, "acme01", now, time.Minute, batch)
		if err != nil || len(got) != batch {
			b.Fatalf("claimed %d, %v", len(got), err)
		}
		if err := q.Ack(ctx, o, got...); err != nil {
			b.Fatal(err)
		}
	}
	warm := DefaultRememberEntries + pending
	for i := range warm {
		step(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := warm; i < warm+b.N; i++ {
		step(i)
	}
}
