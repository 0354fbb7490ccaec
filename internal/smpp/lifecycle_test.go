package smpp_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func TestShutdownAnswersInFlightThenUnbinds(t *testing.T) {
	held := make(chan *smpp.Request, 4)
	h := smpp.HandlerFunc(func(r *smpp.Request) { held <- r })
	srv, err := smpp.NewServer(smpp.Options{Handler: h, Auth: smpp.NewAccounts(defaultAccounts())})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	events := make(chan string, 8)
	c, err := esme.Dial(ctxT(t), esme.Config{Addr: ln.Addr().String(), SystemID: "testuser", Password: "testpass"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SendAsync(submit("40722570240"), func(p pdu.PDU, err error) {
		if err == nil && p.Status == pdu.StatusOK {
			events <- "submit_sm_resp"
		} else {
			events <- "submit failed"
		}
	})
	req := <-held

	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownDone <- srv.Shutdown(ctx)
	}()
	// Serve returns once the listener is closed; new connections are
	// refused from then on, while the session stays up.
	if err := <-served; err != smpp.ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	// Ask the listener itself: dialling its old port could reach whatever
	// took the port since, or connect to itself (TCP self-connect).
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener still accepting after Shutdown began: Accept: %v", err)
	}
	req.RespondSubmitSM(pdu.StatusOK, "0123456789ABCDEF")
	go func() {
		<-c.Unbound()
		events <- "unbind"
	}()
	if e := <-events; e != "submit_sm_resp" {
		t.Fatalf("first event %q, want the in-flight submit answered", e)
	}
	if e := <-events; e != "unbind" {
		t.Fatalf("second event %q, want unbind", e)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after Shutdown")
	}
}

func TestStopAcceptingRefusesNewMessages(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	c := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	ts.srv.StopAccepting()
	status, id, err := c.Submit(ctxT(t), submit("40722570240"))
	if err != nil || status != pdu.StatusThrottled || id != "" {
		t.Fatalf("submit while stopping: %s %q %v, want ESME_RTHROTTLED", status, id, err)
	}
	if err := c.EnquireLink(ctxT(t)); err != nil {
		t.Fatalf("enquire_link while stopping: %v", err)
	}
	if ts.srv.NextReceiver("testuser") == nil {
		t.Fatal("the receiver left the routing table before unbind: its receipts could not be sent")
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, smpp.Options{MaxConnections: 1})
	mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A served connection answers enquire_link even before a bind.
	if p, ok := readPDUOrEnquire(t, conn); ok {
		t.Fatalf("a connection beyond SMPP_MAX_CONNECTIONS was served: %s", p.Command)
	}
}

// TestUnbindWithAFullWindow: a session whose window is full of receipts
// it has not answered still gets the server's unbind (an operator's
// unbind, a shutdown, a removed account); the window bounds receipts
// only. The answers to those receipts that follow unbind_resp are waited
// for, within the unbind timeout, before the connection closes: each is
// settled (not sent again later).
func TestUnbindWithAFullWindow(t *testing.T) {
	ts, _ := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, Window: 2, ResponseTimeout: time.Minute})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	answered := make(chan error, 2)
	seqs := []uint32{sendDeliver(t, s, conn, answered), sendDeliver(t, s, conn, answered)}
	if err := s.Send(&pdu.DeliverSM{}, func(pdu.PDU, error) {}); err != smpp.ErrWindowFull {
		t.Fatalf("a third receipt: %v, want ErrWindowFull", err)
	}
	done := make(chan bool, 1)
	go func() { done <- ts.srv.UnbindSession(context.Background(), s.ID()) }()
	p, ok := readPDU(t, conn)
	if !ok || p.Command != pdu.CmdUnbind {
		t.Fatalf("server sent %+v (%v), want unbind", p.Header, ok)
	}
	// unbind_resp, then the client's own enquire_link: its answer says
	// the server has read the unbind_resp.
	if _, err := conn.Write(append(header(16, pdu.CmdUnbindResp, p.Sequence), header(16, pdu.CmdEnquireLink, 100)...)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
		t.Fatalf("server sent %+v (%v), want enquire_link_resp", p.Header, ok)
	}
	// A session that closed at the unbind_resp would fail both receipts
	// (ErrClosed) instead of taking the answers written below.
	var msg []byte
	for _, seq := range seqs {
		msg = append(msg, header(16, pdu.CmdDeliverSMResp, seq)...)
	}
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	for range seqs {
		if err := <-answered; err != nil {
			t.Fatalf("a receipt answered after unbind_resp: %v, want its answer", err)
		}
	}
	if !<-done {
		t.Fatal("UnbindSession did not find the session")
	}
	waitClosed(t, s, smpp.CloseAdminUnbind)
}

// TestHalfCloseAnswersInFlight: a client that sends a submit_sm and then
// closes its sending side (a half-close) still reads: the submit is
// answered before the connection closes, where the session used to close
// at the end of input and drop the answer.
func TestHalfCloseAnswersInFlight(t *testing.T) {
	held := make(chan *smpp.Request, 1)
	ts := startServer(t, smpp.Options{Handler: smpp.HandlerFunc(func(r *smpp.Request) { held <- r }),
		Auth: smpp.NewAccounts(defaultAccounts()), EnquireLinkInterval: -1})
	conn := rawBound(t, ts.addr)
	if _, err := conn.Write(submitFrame(7)); err != nil {
		t.Fatal(err)
	}
	req := <-held // the submit is being decided
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	s := sessionFrom(ts.srv, "127.0.0.1")
	// Once the server has read the end of input the session leaves the
	// bound state (no receipt is routed to it); one closed at the
	// half-close is done instead.
	for s.State().Bound() {
		select {
		case <-s.Done():
			t.Fatal("closed at the client's half-close with a submit in flight")
		case <-time.After(time.Millisecond):
		}
	}
	req.RespondSubmitSM(pdu.StatusOK, "0123456789ABCDEF")
	p, ok := readPDU(t, conn)
	if !ok || p.Command != pdu.CmdSubmitSMResp || p.Sequence != 7 || p.Status != pdu.StatusOK {
		t.Fatalf("read %+v (%v), want the submit_sm_resp of sequence 7", p.Header, ok)
	}
	waitClosed(t, s, smpp.ClosePeer)
}

// TestHalfCloseGetsWhatTheReaderAnswered: a half-closing client gets the
// answers the reader wrote itself and that were still queued at the end
// of its input (2,000 enquire_link_resp), and the unbind_resp of an
// unbind it sent just before.
func TestHalfCloseGetsWhatTheReaderAnswered(t *testing.T) {
	t.Run("enquire_link", func(t *testing.T) {
		const n = 2000
		ts := startServer(t, smpp.Options{Auth: smpp.NewAccounts(defaultAccounts()), EnquireLinkInterval: -1})
		conn := rawBound(t, ts.addr)
		var msg []byte
		for i := range n {
			msg = append(msg, header(16, pdu.CmdEnquireLink, uint32(10+i))...)
		}
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got := 0
		for {
			p, ok := readPDU(t, conn)
			if !ok {
				break
			}
			if p.Command == pdu.CmdEnquireLinkResp {
				got++
			}
		}
		if got != n {
			t.Fatalf("the half-closed client got %d of %d enquire_link_resp", got, n)
		}
	})
	t.Run("unbind", func(t *testing.T) {
		ts := startServer(t, smpp.Options{Auth: smpp.NewAccounts(defaultAccounts()), EnquireLinkInterval: -1})
		conn := rawBound(t, ts.addr)
		if _, err := conn.Write(header(16, pdu.CmdUnbind, 5)); err != nil {
			t.Fatal(err)
		}
		if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdUnbindResp {
			t.Fatalf("after unbind and a half-close: %+v (%v), want unbind_resp", p.Header, ok)
		}
	})
}

// TestClientResetIsAPeerClose: a client that closes with a reset (data
// unread, or SO_LINGER 0) closed the connection itself: peer_closed, not
// read_error, which is kept for reads that fail on the gateway's side.
func TestClientResetIsAPeerClose(t *testing.T) {
	ts := startServer(t, smpp.Options{EnquireLinkInterval: -1})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	if err := conn.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := conn.Close(); err != nil { // sends RST
		t.Fatal(err)
	}
	waitClosed(t, s, smpp.ClosePeer)
}

// TestSecondUnbindWaitsForTheFirst: an unbind of a session the gateway is
// unbinding already (a second admin request, an account removed while the
// session is unbound as unanswered) leaves the first to finish: the
// session is not cut before the client has answered. It used to close at
// once, with the answers to receipts still on their way.
func TestSecondUnbindWaitsForTheFirst(t *testing.T) {
	ts, _ := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: time.Minute})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	first := make(chan bool, 1)
	go func() { first <- ts.srv.UnbindSession(context.Background(), s.ID()) }()
	p, ok := readPDU(t, conn)
	if !ok || p.Command != pdu.CmdUnbind {
		t.Fatalf("server sent %+v (%v), want unbind", p.Header, ok)
	}
	// The second one, given up at once: it must neither close the session
	// nor wait for it.
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	ts.srv.UnbindSession(gone, s.ID())
	if _, err := conn.Write(header(16, pdu.CmdEnquireLink, 100)); err != nil {
		t.Fatal(err)
	}
	if q, ok := readPDU(t, conn); !ok || q.Command != pdu.CmdEnquireLinkResp {
		t.Fatalf("after a second unbind the server sent %+v (%v), want enquire_link_resp: the session was cut", q.Header, ok)
	}
	if _, err := conn.Write(header(16, pdu.CmdUnbindResp, p.Sequence)); err != nil {
		t.Fatal(err)
	}
	if !<-first {
		t.Fatal("UnbindSession did not find the session")
	}
	waitClosed(t, s, smpp.CloseAdminUnbind)
}

// TestUnbindAnsweredThenClosedKeepsItsReason: a client that answers the
// gateway's unbind and closes at once (as many do) is closed for the
// unbind's reason, not as a peer that went away.
func TestUnbindAnsweredThenClosedKeepsItsReason(t *testing.T) {
	ts, _ := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: time.Minute})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	done := make(chan bool, 1)
	go func() { done <- ts.srv.UnbindSession(context.Background(), s.ID()) }()
	p, ok := readPDU(t, conn)
	if !ok || p.Command != pdu.CmdUnbind {
		t.Fatalf("server sent %+v (%v), want unbind", p.Header, ok)
	}
	if _, err := conn.Write(header(16, pdu.CmdUnbindResp, p.Sequence)); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	if !<-done {
		t.Fatal("UnbindSession did not find the session")
	}
	waitClosed(t, s, smpp.CloseAdminUnbind)
}

// TestUnbindAccountWaitsForSessionsBeingUnbound: unbinding an account's
// sessions while one is being unbound already (an admin request for the
// session, a reload that removed the account) waits until it has closed
// and counts it, as unbinding that one session does. It used to skip it:
// 0 at once, with the session open until the client answered.
func TestUnbindAccountWaitsForSessionsBeingUnbound(t *testing.T) {
	tests := []struct {
		name   string
		first  func(srv *smpp.Server, accounts *smpp.Accounts, s *smpp.Session)
		reason smpp.CloseReason
	}{
		{"session unbound by an admin request", func(srv *smpp.Server, _ *smpp.Accounts, s *smpp.Session) {
			srv.UnbindSession(context.Background(), s.ID())
		}, smpp.CloseAdminUnbind},
		{"account removed by a reload", func(srv *smpp.Server, accounts *smpp.Accounts, _ *smpp.Session) {
			accounts.Replace([]smpp.Account{{SystemID: "other", Password: "pw"}})
			srv.UnbindAccount(context.Background(), "testuser")
		}, smpp.CloseAccountRemoved},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accounts := smpp.NewAccounts([]smpp.Account{{SystemID: "testuser", Password: "testpass"}})
			ts, _ := fakeClockServer(t, smpp.Options{Auth: accounts, EnquireLinkInterval: -1, InactivityTimeout: -1,
				ResponseTimeout: time.Minute})
			conn := rawBoundFrom(t, attackerIP, ts.addr)
			s := sessionFrom(ts.srv, attackerIP)
			go tt.first(ts.srv, accounts, s)
			p, ok := readPDU(t, conn)
			if !ok || p.Command != pdu.CmdUnbind {
				t.Fatalf("server sent %+v (%v), want unbind", p.Header, ok)
			}
			unbound := make(chan int, 1)
			go func() { unbound <- ts.srv.UnbindAccountSessions(context.Background(), "testuser") }()
			select {
			case n := <-unbound:
				t.Fatalf("UnbindAccountSessions returned %d while the session was still open", n)
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write(header(16, pdu.CmdUnbindResp, p.Sequence)); err != nil {
				t.Fatal(err)
			}
			select {
			case n := <-unbound:
				if n != 1 {
					t.Fatalf("UnbindAccountSessions = %d, want 1: the session being unbound", n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("UnbindAccountSessions did not return after the session closed")
			}
			waitClosed(t, s, tt.reason)
		})
	}
}
