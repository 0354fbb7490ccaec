package smpp_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// BenchmarkReaderRejectSubmitSM is a session's reader on the reject path:
// a bound transmitter's submit_sm frames arrive framesPerRead to a read,
// as under load, and the handler answers each at once with
// ESME_RINVDSTADR, as the gateway does on a cached rejection. One op is
// one submit_sm read, decoded, dispatched, answered and written; allocs/op
// counts both the reader and the writer goroutine.
func BenchmarkReaderRejectSubmitSM(b *testing.B) {
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		if r.PDU.Body.(*pdu.SubmitSM).Dest.Addr == "" {
			panic("no destination")
		}
		r.RespondSubmitSM(pdu.StatusInvDstAdr, "")
	})
	srv, err := smpp.NewServer(smpp.Options{Handler: h, Auth: smpp.NewAccounts(defaultAccounts()),
		Registerer: prometheus.NewRegistry(), EnquireLinkInterval: -1, InactivityTimeout: -1, BindTimeout: time.Hour,
		UnbindTimeout: time.Millisecond}) // the client never answers the shutdown's unbind
	if err != nil {
		b.Fatal(err)
	}
	c := newWindowedClient(b.N)
	ln := newOneConnListener(newMemConn(c.next, c.written))
	served := make(chan error, 1)
	b.ResetTimer()
	go func() { served <- srv.Serve(ln) }()
	<-c.done
	b.StopTimer()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := <-served; !errors.Is(err, smpp.ErrServerClosed) {
		b.Fatalf("Serve returned %v", err)
	}
}

const framesPerRead = 32

// windowedClient is a bound transmitter's traffic as bench sends it: a
// bind, then n submit_sm, framesPerRead to a read. A read waits until
// every frame sent before it is answered, so the reader blocks between
// reads and the writer writes a read's answers together, as on a socket.
type windowedClient struct {
	bind, batch []byte
	frameLen    int
	toSend      int      // submit_sm not yet sent
	sent        int      // PDUs sent; reader goroutine only
	acked       int      // responses seen by next; reader goroutine only
	acks        chan int // responses per write, from the writer to next
	responses   int      // responses written; writer goroutine only
	want        int      // the bind's and one per submit_sm
	done        chan struct{}
}

func newWindowedClient(n int) *windowedClient {
	frame := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdSubmitSM, Sequence: 7}, Body: &pdu.SubmitSM{SM: pdu.SM{
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: "Sender"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: "19995550123"},
		RegisteredDelivery: 1,
		ShortMessage:       "hello from the benchmark",
	}}})
	return &windowedClient{
		bind: pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransmitter, Sequence: 1},
			Body: &pdu.Bind{Command: pdu.CmdBindTransmitter, SystemID: "testuser", Password: "testpass", InterfaceVersion: 0x34}}),
		batch:    bytes.Repeat(frame, framesPerRead),
		frameLen: len(frame),
		toSend:   n,
		acks:     make(chan int, 2*framesPerRead), // at most one write per response in flight
		want:     n + 1,
		done:     make(chan struct{}),
	}
}

// next is the next read's bytes, nil once everything was sent.
func (c *windowedClient) next() []byte {
	for c.acked < c.sent {
		c.acked += <-c.acks
	}
	if c.sent == 0 {
		c.sent = 1
		return c.bind
	}
	k := min(c.toSend, framesPerRead)
	if k == 0 {
		return nil
	}
	c.toSend -= k
	c.sent += k
	return c.batch[:k*c.frameLen]
}

// written counts the PDUs of one write.
func (c *windowedClient) written(p []byte) {
	n := 0
	for rest := p; len(rest) >= 4; n++ {
		rest = rest[binary.BigEndian.Uint32(rest):]
	}
	c.acks <- n
	c.responses += n
	if c.responses == c.want {
		close(c.done)
	}
}
