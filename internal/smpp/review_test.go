package smpp_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// TestReceiverNotificationsEndOnTheCurrentCount binds and drops receivers
// of one account from many goroutines at once; whatever the interleaving,
// the last count reported must be the server's current count, or the
// dispatcher could stop sending that account's receipts.
func TestReceiverNotificationsEndOnTheCurrentCount(t *testing.T) {
	counts := make(chan int, 256)
	ts := startServer(t, smpp.Options{OnReceiversChanged: func(_ string, n int) { counts <- n }})
	var wg sync.WaitGroup
	var kept atomic.Int64
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dial(t, ts.addr, pdu.CmdBindReceiver, "testuser", "testpass")
			if err != nil {
				t.Error(err)
				return
			}
			if i%4 == 0 {
				kept.Add(1)
				return // closed by the test's cleanup
			}
			_ = c.Close()
		}()
	}
	wg.Wait()
	// 40 binds and 30 closes each notify once; the closes are seen by the
	// server asynchronously, so read notifications until all 70 are in.
	// The last one must be the current count.
	last := -1
	for range 70 {
		select {
		case last = <-counts:
		case <-ctxT(t).Done():
			t.Fatal("missing receiver notifications")
		}
	}
	if last != int(kept.Load()) || ts.srv.Receivers("testuser") != last {
		t.Fatalf("last notification %d, server has %d receivers, %d kept", last, ts.srv.Receivers("testuser"), kept.Load())
	}
}

// TestResponseWithBadBodyKeepsItsStatus: a deliver_sm_resp whose body does
// not decode still answers the deliver_sm with its header's status.
func TestResponseWithBadBodyKeepsItsStatus(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bind := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindReceiver, Sequence: 1},
		Body: &pdu.Bind{Command: pdu.CmdBindReceiver, SystemID: "testuser", Password: "testpass"}})
	if _, err := conn.Write(bind); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusOK {
		t.Fatal("bind failed")
	}
	s := ts.srv.NextReceiver("testuser")
	answered := make(chan pdu.PDU, 1)
	errs := make(chan error, 1)
	if err := s.Send(&pdu.DeliverSM{SM: pdu.SM{ESMClass: 4, ShortMessage: "id:1"}}, func(p pdu.PDU, err error) {
		answered <- p
		errs <- err
	}); err != nil {
		t.Fatal(err)
	}
	d, ok := readPDU(t, conn)
	if !ok || d.Command != pdu.CmdDeliverSM {
		t.Fatal("no deliver_sm")
	}
	// message_id without its NUL: the body does not decode.
	resp := append(header(16+3, pdu.CmdDeliverSMResp, d.Sequence), 'a', 'b', 'c')
	if _, err := conn.Write(resp); err != nil {
		t.Fatal(err)
	}
	if p, err := <-answered, <-errs; err != nil || p.Status != pdu.StatusOK {
		t.Fatalf("deliver_sm answered %s %v, want ESME_ROK and no error", p.Status, err)
	}
}
