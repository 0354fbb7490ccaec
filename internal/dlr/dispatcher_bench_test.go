package dlr

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// benchChunk is how many receipts the benchmark schedules before it waits
// for their answers: a few thousand pending, as under a steady load.
const benchChunk = 4096

// okSender answers every deliver_sm OK inside Deliver and sends a token
// on chunks each time another benchChunk answers were given.
type okSender struct {
	n      atomic.Int64
	chunks chan struct{}
}

func (s *okSender) Deliver(_ string, _ *pdu.DeliverSM, done func(pdu.PDU, error)) error {
	done(pdu.PDU{}, nil)
	if s.n.Add(1)%benchChunk == 0 {
		s.chunks <- struct{}{}
	}
	return nil
}

// BenchmarkDispatcherAcceptAndReceipt is the dispatcher's part of the
// accept + receipt path on the memory queue, per receipt: ScheduleAsync,
// then claim, deliver_sm, answer and Ack (real clock, receipts due at
// once, one account, a sender answering at once), in chunks of
// benchChunk. Allocations per receipt are the steady figure; ns/op moves
// with the machine.
func BenchmarkDispatcherAcceptAndReceipt(b *testing.B) {
	n := (b.N + benchChunk - 1) / benchChunk * benchChunk
	q := NewMemoryQueue(MemoryOptions{})
	s := &okSender{chunks: make(chan struct{}, n/benchChunk)}
	d := NewDispatcher(Options{Queue: q, Sender: s})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = d.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	d.ReceiversChanged("acme01", 4)
	rs := make([]Receipt, n)
	now := time.Now()
	for i := range rs {
		rs[i] = benchReceipt(i)
		rs[i].SubmittedAt, rs[i].DueAt, rs[i].ExpiresAt = now, now, time.Time{}
	}
	stored := func(error) {}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range rs {
		d.ScheduleAsync(rs[i], stored)
		if (i+1)%benchChunk == 0 {
			<-s.chunks
		}
	}
	for n, _ := q.Len(ctx); n > 0; n, _ = q.Len(ctx) { // the last Acks
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
}
