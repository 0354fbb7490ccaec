package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// countingHLR is memoryHLR counting the lookups that reach it.
type countingHLR struct {
	memoryHLR
	lookups atomic.Int64
}

func (c *countingHLR) Lookup(ctx context.Context, msisdn string) (hlr.Result, error) {
	c.lookups.Add(1)
	return c.memoryHLR.Lookup(ctx, msisdn)
}

// TestQueueWaitCountsAgainstTheLookupTimeout: the wait in the workers'
// queue is part of the time a submit is answered in. The handler's clock
// says how long the submit waited before a worker took it: within the
// lookup timeout it is looked up; past it, it is decided by the timeout
// policy at once (counted in submit_queue_timeouts_total), without a
// lookup. Before, the lookup timeout started when a worker took the
// submit, and a long queue answered submits several timeouts late.
func TestQueueWaitCountsAgainstTheLookupTimeout(t *testing.T) {
	tests := []struct {
		name        string
		waited      time.Duration // added to the handler's clock
		policy      Policy
		want        pdu.Status
		wantLookups int64
		wantTimeout float64
	}{
		{"a short wait: looked up", time.Second, Reject, pdu.StatusOK, 1, 0},
		{"past the timeout, policy reject", 6 * time.Second, Reject, pdu.StatusSysErr, 0, 1},
		{"past the timeout, policy accept", 6 * time.Second, Accept, pdu.StatusOK, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lk := &countingHLR{memoryHLR: *newMemoryHLR()}
			reg := prometheus.NewRegistry()
			h, err := New(Options{Lookuper: lk, Receipts: noReceipts{}, IDs: NewIDs(1, time.Now), Workers: 1,
				LookupTimeout: 5 * time.Second, TimeoutPolicy: tt.policy, Registerer: reg,
				Now: func() time.Time { return time.Now().Add(tt.waited) }})
			if err != nil {
				t.Fatal(err)
			}
			srv, conn := serveOneClient(t, h)
			defer stopServing(t, srv, h, conn)
			if _, err := conn.Write(submitPDU(2, "447700900123")); err != nil { // not cached: a worker's
				t.Fatal(err)
			}
			p, err := readResponse(t, conn)
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.want {
				t.Errorf("answered %s, want %s", p.Status, tt.want)
			}
			if n := lk.lookups.Load(); n != tt.wantLookups {
				t.Errorf("%d lookups, want %d", n, tt.wantLookups)
			}
			var m dto.Metric
			if err := h.metrics.queueTimeouts.Write(&m); err != nil {
				t.Fatal(err)
			}
			if n := m.GetCounter().GetValue(); n != tt.wantTimeout {
				t.Errorf("submit_queue_timeouts_total %v, want %v", n, tt.wantTimeout)
			}
		})
	}
}
