//go:build unix

package gateway

import (
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// BenchmarkInlineReject is the reject path of the whole handler behind
// real sessions: each bound client on 127.0.0.1 writes 32 submit_sm (live
// numbers answered from memory, on the reader) per write and reads their
// 32 answers; one op is one submit. The log is at INFO (a line per
// submit) into the buffered Writer, whose output discards; the metrics
// are registered; every account has a pending cap. allocs/op counts every
// goroutine's allocations (the clients' reads allocate nothing);
// cpu-ns/op is the process's CPU time, clients included.
func BenchmarkInlineReject(b *testing.B) {
	for _, sessions := range []int{1, 4} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) { benchInlineReject(b, sessions) })
	}
}

func benchInlineReject(b *testing.B, sessions int) {
	const perWrite = 32
	logger, w, err := logging.NewBuffered(discardOut{}, "INFO", "json", 4<<20)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	h, err := New(Options{Lookuper: newMemoryHLR(), Receipts: noReceipts{}, IDs: NewIDs(1, time.Now), Workers: 4,
		Logger: logger, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	var srv *smpp.Server
	conns := make([]net.Conn, sessions)
	for i := range conns {
		srv, conns[i] = serveOneClientAs(b, h, smpp.NewAccounts([]smpp.Account{{SystemID: "alice", Password: "pw", MaxPending: 1_000_000}})) // a server per session: the handler is shared
		_ = conns[i].SetReadDeadline(time.Time{})
		defer stopServing(b, srv, h, conns[i])
	}
	var burst []byte
	for i := range perWrite {
		burst = append(burst, submitPDU(uint32(i+2), "19990000001")...)
	}
	const respLen = 16 // a refusal's submit_sm_resp: the header alone
	rounds := (b.N + perWrite*sessions - 1) / (perWrite * sessions)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers := make([]byte, perWrite*respLen)
			for range rounds {
				if _, err := conn.Write(burst); err != nil {
					b.Error(err)
					return
				}
				if _, err := io.ReadFull(conn, answers); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user and system CPU time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
