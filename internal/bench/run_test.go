package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// startResponder serves a responder on a free loopback port for the test.
func startResponder(t *testing.T, cfg ResponderConfig) (*Responder, string) {
	t.Helper()
	r, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
		if err := <-served; err != nil && !errors.Is(err, ErrResponderClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return r, ln.Addr().String()
}

func statusCount(rep *Report, st pdu.Status) int64 {
	for _, s := range rep.ByStatus {
		if s.Status == uint32(st) {
			return s.Count
		}
	}
	return 0
}

func TestRunCountAgainstResponder(t *testing.T) {
	resp, addr := startResponder(t, ResponderConfig{})
	var progress bytes.Buffer
	rep, err := Run(t.Context(), Config{
		Addr: addr, SystemID: "testuser", Password: "testpass",
		Sessions: 3, Window: 8, Count: 2000, Distinct: 10,
		Progress: &progress, ProgressInterval: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 2000 || rep.Responses != 2000 || rep.Unanswered != 0 || rep.Failed != 0 {
		t.Fatalf("sent %d responses %d unanswered %d failed %d", rep.Sent, rep.Responses, rep.Unanswered, rep.Failed)
	}
	if got := statusCount(rep, pdu.StatusOK); got != 2000 {
		t.Fatalf("ESME_ROK %d, want 2000; %+v", got, rep.ByStatus)
	}
	if got := resp.Stats().Submits; got != 2000 {
		t.Fatalf("responder answered %d", got)
	}
	if rep.ReceiptsReceived != 0 || rep.Receipts != nil || !rep.OK() {
		t.Fatalf("report %+v", rep)
	}
	if rep.Latency.P50 > rep.Latency.P99 || rep.Latency.P99 > rep.Latency.Max {
		t.Fatalf("percentiles out of order: %+v", rep.Latency)
	}
}

func TestRunMatchesEveryReceipt(t *testing.T) {
	for _, separate := range []bool{false, true} {
		t.Run(map[bool]string{false: "trx", true: "tx+rx"}[separate], func(t *testing.T) {
			resp, addr := startResponder(t, ResponderConfig{Receipts: true})
			rep, err := Run(t.Context(), Config{
				Addr: addr, SystemID: "testuser", Password: "testpass",
				Sessions: 2, Window: 16, Count: 1500, Separate: separate, WaitReceipts: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			want := ReceiptStats{Received: 1500, Matched: 1500}
			if *rep.Receipts != want || rep.ReceiptsReceived != 1500 {
				t.Fatalf("receipts %+v, want %+v", *rep.Receipts, want)
			}
			if !rep.OK() {
				t.Fatalf("report not OK: %+v", rep)
			}
			if st := resp.Stats(); st.Receipts != 1500 || st.ReceiptsFailed != 0 {
				t.Fatalf("responder %+v", st)
			}
		})
	}
}

func TestRunStopsAfterDuration(t *testing.T) {
	_, addr := startResponder(t, ResponderConfig{})
	rep, err := Run(t.Context(), Config{
		Addr: addr, SystemID: "testuser", Password: "testpass",
		Sessions: 2, Window: 4, Duration: 100 * time.Millisecond, Rate: 2000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent == 0 || rep.Sent != rep.Responses || !rep.OK() {
		t.Fatalf("sent %d responses %d ok %v", rep.Sent, rep.Responses, rep.OK())
	}
	// The pacer never sends a message before it is due: message i goes
	// at i/rate, so no more than rate × sending time (+ the first) left.
	if limit := int64(rep.Rate*rep.SendingSeconds) + 1; rep.Sent > limit {
		t.Fatalf("sent %d in %.3fs at %g/s, more than %d", rep.Sent, rep.SendingSeconds, rep.Rate, limit)
	}
	var decoded Report
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &decoded); err != nil || decoded.Sent != rep.Sent {
		t.Fatalf("json round trip: %v, %s", err, b)
	}
}

func TestRunCancelledIsInterrupted(t *testing.T) {
	_, addr := startResponder(t, ResponderConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rep, err := Run(ctx, Config{Addr: addr, SystemID: "testuser", Password: "testpass", Count: 10})
	if err == nil && (!rep.Interrupted || rep.OK()) {
		t.Fatalf("a cancelled run must not be OK: %+v", rep)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no bound":    {Addr: "127.0.0.1:1"},
		"no address":  {Count: 1},
		"long number": {Addr: "127.0.0.1:1", Count: 1, DestPrefix: "1234567890"},
		"not digits":  {Addr: "127.0.0.1:1", Count: 1, DestPrefix: "+44"},
	} {
		if _, err := Run(t.Context(), cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// refusingSMSC answers every PDU with the 16-octet response header
// carrying ESME_RINVPASWD: the responder accepts any bind, so a refused
// bind needs a server of its own.
func refusingSMSC(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				var h [headerLen]byte
				for {
					if _, err := io.ReadFull(nc, h[:]); err != nil {
						return
					}
					in := parseHeader(h[:])
					if _, err := io.CopyN(io.Discard, nc, int64(in.length)-headerLen); err != nil {
						return
					}
					if _, err := nc.Write(appendHeader(nil, in.command|respBit, uint32(pdu.StatusInvPaswd), in.sequence)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestRunBindRefused(t *testing.T) {
	addr := refusingSMSC(t)
	_, err := Run(t.Context(), Config{Addr: addr, SystemID: "testuser", Password: "wrong", Count: 1})
	var be *esme.BindError
	if !errors.As(err, &be) || be.Status != pdu.StatusInvPaswd {
		t.Fatalf("err %v, want a bind refused with ESME_RINVPASWD", err)
	}
}
