package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// heldLookups is noReceipts whose Lookup waits until released: a receipt
// queue (Redis) slow to answer.
type heldLookups struct {
	noReceipts
	entered chan struct{}
	release chan struct{}
}

func (h heldLookups) Lookup(context.Context, string, string) (dlr.Outcome, bool, error) {
	h.entered <- struct{}{}
	<-h.release
	return dlr.Outcome{}, false, nil
}

// TestQueriesHoldBoundedQueuePlaces: with QueueQueries 2, a third
// query_sm while two wait for the receipt queue waits for a place; when
// none frees within the lookup timeout it is answered ESME_RTHROTTLED
// (queue_queries_throttled_total). Once the two are answered, their places
// serve the next. A flood of query_sm from one account used to take every
// Redis connection the receipts' commits need (every account's submits
// slowed about 28 times).
func TestQueriesHoldBoundedQueuePlaces(t *testing.T) {
	rc := heldLookups{entered: make(chan struct{}, 8), release: make(chan struct{})}
	h, err := New(Options{Lookuper: newMemoryHLR(), Receipts: rc, IDs: NewIDs(1, time.Now), Workers: 4,
		QueueQueries: 2, LookupTimeout: 300 * time.Millisecond, Registerer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	srv, conn := serveOneClient(t, h)
	defer stopServing(t, srv, h, conn)
	query := func(seq uint32) []byte {
		return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdQuerySM, Sequence: seq},
			Body: &pdu.QuerySM{MessageID: "0123456789ABCDEF"}})
	}
	for seq := uint32(2); seq <= 3; seq++ {
		if _, err := conn.Write(query(seq)); err != nil {
			t.Fatal(err)
		}
		<-rc.entered // waits for the queue, holding its place
	}
	if _, err := conn.Write(query(4)); err != nil {
		t.Fatal(err)
	}
	p, err := readResponse(t, conn)
	if err != nil {
		t.Fatal(err)
	}
	if p.Sequence != 4 || p.Status != pdu.StatusThrottled {
		t.Fatalf("third query while two hold the places: seq %d %s, want seq 4 ESME_RTHROTTLED after its wait", p.Sequence, p.Status)
	}
	select {
	case <-rc.entered:
		t.Fatal("the third query reached the receipt queue beside the two")
	default:
	}
	var m dto.Metric
	if err := h.metrics.queriesThrottled.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 1 {
		t.Fatalf("queue_queries_throttled_total %v, want 1", n)
	}
	close(rc.release)
	for range 2 {
		if p, err := readResponse(t, conn); err != nil || p.Status != pdu.StatusQueryFail {
			t.Fatalf("a waiting query: %+v %v, want ESME_RQUERYFAIL (unknown id)", p.Header, err)
		}
	}
	if _, err := conn.Write(query(5)); err != nil { // the places are free again
		t.Fatal(err)
	}
	if p, err := readResponse(t, conn); err != nil || p.Sequence != 5 || p.Status != pdu.StatusQueryFail {
		t.Fatalf("a query once the others were answered: %+v %v, want seq 5 ESME_RQUERYFAIL", p.Header, err)
	}
}
