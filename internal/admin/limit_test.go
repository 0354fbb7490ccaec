package admin

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestStalledWriterMakesRoom: at the bound with no connection idle, a
// connection whose response write has been blocked for stalledWrite (its
// client pipelines requests and reads nothing) is closed to make room;
// one blocked for less is not, and the new connection is refused. Before
// this, such clients held the port shut as long as they liked, health
// checks included.
func TestStalledWriterMakesRoom(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	counter := func() prometheus.Counter { return prometheus.NewCounter(prometheus.CounterOpts{Name: "c"}) }
	refused, evicted, slow := counter(), counter(), counter()
	ll := newLimitListener(ln, 1, refused, evicted, slow)
	var clock atomic.Int64
	clock.Store(time.Unix(1_000, 0).UnixNano())
	ll.now = func() time.Time { return time.Unix(0, clock.Load()) }
	t.Cleanup(func() { ll.Close() })

	dial(t, ln.Addr().String()) // never reads
	sc, err := ll.Accept()
	if err != nil {
		t.Fatal(err)
	}
	lc := sc.(*limitConn)
	wrote := make(chan error, 1)
	go func() { _, err := sc.Write(make([]byte, 64<<20)); wrote <- err }() // more than any socket buffer
	if !waitFor(func() bool { return lc.writing.Load() != 0 }) {
		t.Fatal("the write never started")
	}

	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ll.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	// Blocked, but not for stalledWrite yet: a new connection is refused.
	early := dial(t, ln.Addr().String())
	_ = early.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := early.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection while the write was blocked for less than %v: read %d bytes, %v; want it refused", stalledWrite, n, err)
	}
	if got := valueOf(refused); got != 1 {
		t.Fatalf("refused = %v, want 1", got)
	}
	clock.Add(int64(stalledWrite))
	dial(t, ln.Addr().String())
	select {
	case c := <-accepted:
		t.Cleanup(func() { c.Close() })
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted after the write had been blocked for stalledWrite")
	}
	if err := <-wrote; err == nil {
		t.Fatal("the stalled write succeeded; want its connection closed")
	}
	if got := valueOf(slow); got != 1 {
		t.Fatalf("slow = %v, want 1", got)
	}
	if got := valueOf(evicted); got != 0 {
		t.Fatalf("evicted (idle) = %v, want 0", got)
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func valueOf(c prometheus.Counter) float64 {
	var m dto.Metric
	_ = c.Write(&m)
	return m.GetCounter().GetValue()
}
