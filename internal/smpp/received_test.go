package smpp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// Each submit is read on its own here, so its Received is the clock's
// reading when it arrived.
func TestRequestReceivedIsTheFramesClockReading(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := smpp.NewFakeClock(t0)
	got := make(chan time.Time, 8)
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		if r.PDU.Command == pdu.CmdSubmitSM {
			got <- r.Received
		}
		okHandler(r)
	})
	ts := startServer(t, smpp.Options{Clock: clk, Handler: h, EnquireLinkInterval: -1, InactivityTimeout: -1, BindTimeout: time.Hour})
	c := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	for i := 0; i < 3; i++ {
		if _, _, err := c.Submit(ctxT(t), submit("4915123456780")); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if want := clk.Now(); !r.Equal(want) {
			t.Fatalf("submit %d: Received %v, clock %v", i, r, want)
		}
		clk.Advance(time.Second)
	}
}

// The clock is read once per read from the connection: the frames one read
// brings share its reading, however long the ones ahead of them take, and
// a frame split over reads carries the reading of the read that completed
// it.
func TestRequestReceivedIsTheClockReadingOfTheReadThatCompletedItsFrame(t *testing.T) {
	clk := smpp.NewFakeClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	frame := func(seq uint32) []byte {
		return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdSubmitSM, Sequence: seq}, Body: submit("4915123456780")})
	}
	bind := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransmitter, Sequence: 1},
		Body: &pdu.Bind{Command: pdu.CmdBindTransmitter, SystemID: "testuser", Password: "testpass", InterfaceVersion: 0x34}})
	third := frame(4)
	reads := [][]byte{
		bind,
		append(frame(2), frame(3)...), // two frames, one read
		third[:10],                    // the third frame in two reads
		third[10:],
	}
	readings := make([]time.Time, len(reads)) // the clock when each read returns
	next := func() []byte {
		if len(reads) == 0 {
			return nil
		}
		i := len(readings) - len(reads)
		clk.Advance(time.Second)
		readings[i] = clk.Now()
		b := reads[0]
		reads = reads[1:]
		return b
	}
	type arrival struct {
		seq      uint32
		received time.Time
	}
	got := make(chan arrival, 8)
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		got <- arrival{r.PDU.Sequence, r.Received}
		clk.Advance(time.Millisecond) // handling takes time; the next frame's reading does not move
		okHandler(r)
	})
	srv, err := smpp.NewServer(smpp.Options{Clock: clk, Handler: h, Auth: smpp.NewAccounts(defaultAccounts()),
		Registerer: prometheus.NewRegistry(), EnquireLinkInterval: -1, InactivityTimeout: -1, BindTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	conn := newMemConn(next, func([]byte) {})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(newOneConnListener(conn)) }()
	t.Cleanup(func() {
		_ = conn.Close() // the client hangs up, so the shutdown has no session to unbind
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, smpp.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	for _, want := range []struct {
		seq  uint32
		read int // the read that completed the frame
	}{{2, 1}, {3, 1}, {4, 3}} {
		select {
		case a := <-got: // readings[want.read] was written before this send
			if a.seq != want.seq || !a.received.Equal(readings[want.read]) {
				t.Fatalf("submit_sm %d: Received %v; want submit_sm %d at %v", a.seq, a.received, want.seq, readings[want.read])
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("submit_sm %d was not dispatched", want.seq)
		}
	}
}
