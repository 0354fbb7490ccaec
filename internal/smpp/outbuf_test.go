package smpp

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSendRefusedWhileOutputFull: while a session's output buffer is full
// the server's own requests are refused at once, so a receipt goes to
// another receiver of the account instead of piling up behind a client
// that does not read.
func TestSendRefusedWhileOutputFull(t *testing.T) {
	s := pipeSession(t, Options{MaxOutputBytes: 1024})
	s.state.Store(int32(StateBoundTRX))
	s.outBytes.Store(1024)
	if err := s.Send(&pdu.DeliverSM{}, func(pdu.PDU, error) {}); !errors.Is(err, ErrOutputFull) {
		t.Fatalf("Send with a full output buffer: %v, want ErrOutputFull", err)
	}
	s.outBytes.Store(1023)
	if err := s.Send(&pdu.DeliverSM{}, func(pdu.PDU, error) {}); err != nil {
		t.Fatalf("Send with room: %v", err)
	}
	s.wmu.Lock()
	queued := len(s.out)
	s.wmu.Unlock()
	if got := s.outBytes.Load(); queued == 0 || got != int64(queued) {
		t.Fatalf("output buffer counted %d bytes, %d queued", got, queued)
	}
}

// TestSlowConsumerLoggedOnce: the reader (output full too long) and the
// writer (a write timed out) may both close a session as slow_consumer;
// only the close that happens logs it.
func TestSlowConsumerLoggedOnce(t *testing.T) {
	var logged bytes.Buffer
	s := pipeSession(t, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	s.closeSlowConsumer()
	s.closeSlowConsumer()
	if n := strings.Count(logged.String(), "smpp.session.slow_consumer"); n != 1 {
		t.Fatalf("slow_consumer logged %d times, want once:\n%s", n, logged.String())
	}
	if r := s.CloseReason(); r != CloseSlowConsumer {
		t.Fatalf("closed as %s", r)
	}
}

// pipeSession is a session of a server with opts (no handler, no
// accounts unless set) on one end of an in-memory pipe, both ends closed
// when the test ends.
func pipeSession(t *testing.T, opts Options) *Session {
	t.Helper()
	if opts.Handler == nil {
		opts.Handler = HandlerFunc(func(*Request) {})
	}
	if opts.Auth == nil {
		opts.Auth = NewAccounts(nil)
	}
	srv, err := NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	return newSession(srv, c1, 1)
}

// TestSharedBoundHoldsBackReceiptsOnly: a session above its floor while
// all sessions together are past MaxOutputBytesTotal gets no more
// receipts, but its unbind and enquire_link still go out.
func TestSharedBoundHoldsBackReceiptsOnly(t *testing.T) {
	s := pipeSession(t, Options{MaxOutputBytesTotal: 1 << 20})
	s.state.Store(int32(StateBoundTRX))
	s.outBytes.Store(OutputFloorBytes + 1)
	s.srv.outOver.Store(1 << 20)
	if err := s.Send(&pdu.DeliverSM{}, func(pdu.PDU, error) {}); !errors.Is(err, ErrOutputFull) {
		t.Fatalf("deliver_sm under the shared bound: %v, want ErrOutputFull", err)
	}
	for _, body := range []pdu.Body{&pdu.EnquireLink{}, &pdu.Unbind{}} {
		if err := s.Send(body, func(pdu.PDU, error) {}); err != nil {
			t.Fatalf("%s under the shared bound: %v", body.CommandID(), err)
		}
	}
}
