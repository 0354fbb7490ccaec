package smpp

import (
	"errors"
	"net"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSendRefusedWhileOutputFull: while a session's output buffer is full
// the server's own requests are refused at once, so a receipt goes to
// another receiver of the account instead of piling up behind a client
// that does not read.
func TestSendRefusedWhileOutputFull(t *testing.T) {
	srv, err := NewServer(Options{Handler: HandlerFunc(func(*Request) {}), Auth: NewAccounts(nil), MaxOutputBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	s := newSession(srv, c1, 1)
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
