package smpp_test

import (
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// TestUnreadSubmitsSoak: on the real clock, a bound and a never-bound
// connection each write submit_sm without reading; another session keeps
// submitting. The heap in use never grows 64 MB over the idle baseline, and
// both floods end as slow_consumer. By default the run is small enough for
// CI (50,000 submits each against a 256 KiB output bound and small socket
// buffers); SMPP_SOAK_SUBMITS=5000000 reproduces the reported attack
// against the default 4 MiB bound and the system's socket buffers.
func TestUnreadSubmitsSoak(t *testing.T) {
	n, maxOut := 50_000, 256<<10
	wrap := func(l net.Listener) net.Listener { return smallBuffers{l} }
	if v, err := strconv.Atoi(os.Getenv("SMPP_SOAK_SUBMITS")); err == nil && v > 0 {
		n, maxOut, wrap = v, 0, nil
	}
	ts, _ := startServerOn(t, smpp.Options{MaxOutputBytes: maxOut, SlowConsumerTimeout: time.Second, MaxPrebindRequests: 1 << 30,
		EnquireLinkInterval: -1, InactivityTimeout: -1, BindTimeout: time.Hour}, wrap)
	k := startKeeper(t, ts.addr)
	k.waitProgress(t)
	baseline := heapInUse()

	peak := baseline
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			case <-stopSampling:
				return
			}
		}
	}()

	var wg sync.WaitGroup
	sessions := make(chan *smpp.Session, 2)
	for _, bind := range []bool{true, false} {
		ip := attackerIP
		if !bind {
			ip = goodIP
		}
		conn := dialFrom(t, ip, ts.addr)
		if bind {
			if _, err := conn.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
				t.Fatal(err)
			}
			if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusOK {
				t.Fatalf("bind: %+v", p.Header)
			}
		}
		wg.Add(1)
		go func(conn net.Conn) {
			defer wg.Done()
			floodSubmits(conn, n)
		}(conn)
		for s := sessionFrom(ts.srv, ip); ; s = sessionFrom(ts.srv, ip) {
			if s != nil {
				sessions <- s
				break
			}
			runtime.Gosched()
		}
	}
	close(sessions)
	for s := range sessions {
		select {
		case <-s.Done():
		case <-time.After(5 * time.Minute):
			t.Fatal("a flooding connection was never closed")
		}
		if r := s.CloseReason(); r != smpp.CloseSlowConsumer {
			t.Errorf("a flooding connection from %s closed as %s, want slow_consumer", s.RemoteAddr(), r)
		}
	}
	wg.Wait()
	close(stopSampling)
	<-sampled
	k.waitProgress(t)
	k.check(t)
	grown := int64(peak) - int64(baseline)
	t.Logf("%d submits per connection: heap in use %d MB at baseline, peak %d MB (+%d MB)",
		n, baseline>>20, peak>>20, grown>>20)
	if grown > 64<<20 {
		t.Fatalf("heap in use grew %d MB over the baseline, bound 64 MB", grown>>20)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
