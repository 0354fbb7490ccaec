package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func TestDestinationsCycle(t *testing.T) {
	d := newDestinations("4099", 1000)
	for i, want := range map[uint64]string{0: "4099000000", 999: "4099000999", 1000: "4099000000", 1234: "4099000234"} {
		if got := string(d.at(nil, i)); got != want {
			t.Errorf("at(%d) = %s, want %s", i, got, want)
		}
	}
	if got := string(newDestinations("1999", 10_000_000).at(nil, 9_999_999)); got != "19999999999" {
		t.Errorf("wide suffix: %s", got)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.quantile(c.q)
		// The histogram promises 1/64 relative precision.
		if diff := float64(got-c.want) / float64(c.want); diff < 0 || diff > 1.0/64 {
			t.Errorf("q%.2f = %v, want %v within 1/64", c.q, got, c.want)
		}
	}
	var m histogram
	m.merge(&h)
	m.record(time.Second)
	if m.total != 10001 || m.max != time.Second || m.min != time.Microsecond {
		t.Fatalf("merge: total %d min %v max %v", m.total, m.min, m.max)
	}
}

func TestHistogramBucketsAreMonotonic(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1 << 20, 1<<20 + 1, 1 << 40, 1<<63 - 1, 1<<64 - 1} {
		b := bucketOf(v)
		if b < prev || b >= bucketCount {
			t.Fatalf("bucketOf(%d) = %d after %d (of %d)", v, b, prev, bucketCount)
		}
		if highestIn(b) < v {
			t.Fatalf("highestIn(%d) = %d < %d", b, highestIn(b), v)
		}
		prev = b
	}
}

func TestTrackerOutcomes(t *testing.T) {
	tr := newTracker()
	id := func(n int) string { return fmt.Sprintf("%016X", n) }
	tr.accepted(id(1))
	tr.receipt(id(1)) // matched
	tr.receipt(id(1)) // duplicate
	tr.receipt(id(2)) // early: its response is read later
	tr.accepted(id(2))
	tr.accepted(id(3))   // missing
	tr.receipt(id(4))    // never accepted: unmatched
	tr.accepted("short") // not the hex format: string key
	tr.receipt("short")
	want := ReceiptStats{Received: 5, Matched: 3, Duplicates: 1, Missing: 1, Unmatched: 1}
	if got := tr.stats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if got := tr.outstanding(); got != 1 {
		t.Fatalf("outstanding %d, want 1", got)
	}
}

func TestReceiptIDFallsBackToText(t *testing.T) {
	frame := appendReceipt(nil, 1, 0xAB, []byte{5, 0, 'B', 0}, []byte{1, 1, '4', '9', 0}, []byte("2611292230"))
	p, err := pdu.Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Body.(*pdu.DeliverSM)
	if got := receiptID(d); got != "00000000000000AB" {
		t.Fatalf("from TLV: %q", got)
	}
	d.TLVs = ""
	if got := receiptID(d); got != "00000000000000AB" {
		t.Fatalf("from text: %q", got)
	}
}

func TestPacerSpacesMessages(t *testing.T) {
	start := time.Unix(1000, 0)
	p := newPacer(start, 4000)
	for i, want := range map[uint64]time.Duration{0: 0, 1: 250 * time.Microsecond, 4000: time.Second, 6000: 1500 * time.Millisecond} {
		if got := p.due(i).Sub(start); got != want {
			t.Errorf("due(%d) = %v, want %v", i, got, want)
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if !p.wait(t.Context(), 0, timer) {
		t.Fatal("a message already due must not wait")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if newPacer(time.Now(), 1).wait(ctx, 1_000_000, timer) {
		t.Fatal("wait must end with stop")
	}
}
