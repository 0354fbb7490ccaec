package smpp_test

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

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
