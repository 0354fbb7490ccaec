package smpp_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// The session timers run on the injected clock: these tests move a fake
// clock instead of waiting out real time windows.

func waitAdded(t *testing.T, clk *smpp.FakeClock) {
	t.Helper()
	select {
	case <-clk.Added():
	case <-time.After(20 * time.Second):
		t.Fatal("no timer was started")
	}
}

func waitClosed(t *testing.T, s *smpp.Session, want smpp.CloseReason) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("the session was not closed (want %s)", want)
	}
	if r := s.CloseReason(); r != want {
		t.Fatalf("closed as %s, want %s", r, want)
	}
}

// fakeClockServer starts a server on a fake clock with the given timers
// (the tick is a quarter of the shortest, at most 1 s).
func fakeClockServer(t *testing.T, opts smpp.Options) (*testServer, *smpp.FakeClock) {
	t.Helper()
	clk := smpp.NewFakeClock(t0)
	opts.Clock = clk
	ts, _ := startServerOn(t, opts, nil)
	return ts, clk
}

func TestTimersCloseSessions(t *testing.T) {
	tests := []struct {
		name   string
		opts   smpp.Options
		bind   bool
		steps  []time.Duration // clock moves; after each but the last the server sends expect[i]
		expect []pdu.CommandID
		reason smpp.CloseReason
	}{
		{"no bind", smpp.Options{BindTimeout: 10 * time.Second}, false,
			[]time.Duration{11 * time.Second}, nil, smpp.CloseBindTimeout},
		// Unbound, not cut: unbind, and closed once the client answers.
		{"inactive", smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: 60 * time.Second}, true,
			[]time.Duration{61 * time.Second}, []pdu.CommandID{pdu.CmdUnbind}, smpp.CloseInactivity},
		{"enquire_link unanswered", smpp.Options{EnquireLinkInterval: 30 * time.Second, EnquireLinkTimeout: 10 * time.Second,
			ResponseTimeout: time.Hour, InactivityTimeout: -1}, true,
			[]time.Duration{31 * time.Second, 11 * time.Second}, []pdu.CommandID{pdu.CmdEnquireLink}, smpp.CloseEnquireLinkTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, clk := fakeClockServer(t, tt.opts)
			var conn net.Conn
			if tt.bind {
				conn = rawBoundFrom(t, attackerIP, ts.addr) // the bind answer means the timers run
			} else {
				conn = dialFrom(t, attackerIP, ts.addr)
				waitAdded(t, clk)
			}
			s := sessionFrom(ts.srv, attackerIP)
			for i, d := range tt.steps {
				clk.Advance(d)
				if i < len(tt.expect) {
					p, ok := readPDU(t, conn)
					if !ok || p.Command != tt.expect[i] {
						t.Fatalf("step %d: server sent %+v (%v), want %s", i, p.Header, ok, tt.expect[i])
					}
					if p.Command == pdu.CmdUnbind {
						if _, err := conn.Write(header(16, pdu.CmdUnbindResp, p.Sequence)); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			waitClosed(t, s, tt.reason)
		})
	}
}

// TestAnsweredEnquireLinkKeepsSession: a client that answers the server's
// enquire_link, and sends nothing else, stays bound past the inactivity
// timeout: any PDU counts as activity.
func TestAnsweredEnquireLinkKeepsSession(t *testing.T) {
	ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: 30 * time.Second, InactivityTimeout: 100 * time.Second})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	for i := range 5 {
		clk.Advance(31 * time.Second)
		p, ok := readPDU(t, conn)
		if !ok || p.Command != pdu.CmdEnquireLink {
			t.Fatalf("round %d: %+v (%v), want enquire_link", i, p.Header, ok)
		}
		// The answer, then an enquire_link of ours: its answer means the
		// server has read ours before the clock moves again.
		msg := append(header(16, pdu.CmdEnquireLinkResp, p.Sequence), header(16, pdu.CmdEnquireLink, 100+uint32(i))...)
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
			t.Fatalf("round %d: %+v (%v), want enquire_link_resp", i, p.Header, ok)
		}
	}
	if r := s.CloseReason(); r != smpp.CloseNone {
		t.Fatalf("an answering session was closed as %s", r)
	}
}

// TestDelayedBindAnsweredPastBindTimeout: a bind whose check the bind
// guard delays is answered even when the session-init timer runs out
// meanwhile; the session closes after the answer.
func TestDelayedBindAnsweredPastBindTimeout(t *testing.T) {
	ts, clk := fakeClockServer(t, smpp.Options{BindTimeout: 10 * time.Second, FailedBindDelay: 4 * time.Second, MaxPrebindRequests: 100})
	conn := dialFrom(t, attackerIP, ts.addr)
	failFreeBinds(t, conn)
	drain(clk.Added())
	if _, err := conn.Write(bindFrame(4, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	waitAdded(t, clk) // the delay before the check
	clk.Advance(11 * time.Second)
	if p, ok := readPDU(t, conn); !ok || p.Sequence != 4 || p.Status != pdu.StatusOK {
		t.Fatalf("the delayed bind was not answered: %+v (%v)", p.Header, ok)
	}
}

// TestUnansweredRequestsCloseSession: a receiver that keeps its link
// alive with its own enquire_link but answers none of the server's
// requests is closed (unanswered) once one of them times out, so its
// share of the account's receipts goes to the other receivers; one that
// answers a request sent after the one it dropped is alive and stays.
// Neither a response to a sequence number the server never sent nor an
// answer to the server's enquire_link makes a receiver that answers no
// receipt alive.
func TestUnansweredRequestsCloseSession(t *testing.T) {
	tests := []struct {
		name     string
		answer   []int // which of the two deliver_sm the client answers
		stray    bool  // it also sends a deliver_sm_resp for a number never sent
		elink    bool  // the server also sends enquire_link, which it answers
		closedAs smpp.CloseReason
	}{
		{"answers nothing", nil, false, false, smpp.CloseUnanswered},
		{"answers the later one", []int{1}, false, false, smpp.CloseNone},
		{"answers both", []int{0, 1}, false, false, smpp.CloseNone},
		{"a stray response only", nil, true, false, smpp.CloseUnanswered},
		{"the server's enquire_link only", nil, false, true, smpp.CloseUnanswered},
		{"the later one and enquire_link", []int{1}, false, true, smpp.CloseNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: 10 * time.Second})
			conn := rawBoundFrom(t, attackerIP, ts.addr)
			s := sessionFrom(ts.srv, attackerIP)
			answered := make(chan error, 2)
			var seqs []uint32
			for i := range 2 {
				if i == 1 {
					clk.Advance(time.Second) // the second is sent later
				}
				seqs = append(seqs, sendDeliver(t, s, conn, answered))
			}
			var msg []byte
			for _, i := range tt.answer {
				msg = append(msg, header(16, pdu.CmdDeliverSMResp, seqs[i])...)
			}
			if tt.stray {
				msg = append(msg, header(16, pdu.CmdDeliverSMResp, 999_999)...)
			}
			linked := make(chan error, 1)
			if tt.elink {
				if err := s.Send(&pdu.EnquireLink{}, func(_ pdu.PDU, err error) { linked <- err }); err != nil {
					t.Fatal(err)
				}
				p, ok := readPDU(t, conn)
				if !ok || p.Command != pdu.CmdEnquireLink {
					t.Fatalf("server sent %+v (%v), want enquire_link", p.Header, ok)
				}
				msg = append(msg, header(16, pdu.CmdEnquireLinkResp, p.Sequence)...)
			}
			// The client's own enquire_link: its answer means the server
			// has read what came before it.
			msg = append(msg, header(16, pdu.CmdEnquireLink, 100)...)
			if _, err := conn.Write(msg); err != nil {
				t.Fatal(err)
			}
			if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
				t.Fatalf("%+v (%v), want enquire_link_resp", p.Header, ok)
			}
			for range tt.answer {
				if err := <-answered; err != nil {
					t.Fatalf("an answered deliver_sm: %v", err)
				}
			}
			if tt.elink {
				if err := <-linked; err != nil {
					t.Fatalf("the answered enquire_link: %v", err)
				}
			}
			clk.Advance(20 * time.Second) // past the response timeout of both
			for range 2 - len(tt.answer) {
				if err := <-answered; err != smpp.ErrTimeout {
					t.Fatalf("an unanswered deliver_sm: %v, want ErrTimeout", err)
				}
			}
			if tt.closedAs != smpp.CloseNone {
				// Unbound as an operator's unbind would: unbind, which
				// this client leaves unanswered too, then closed once
				// the unbind timeout passes on the clock.
				if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdUnbind {
					t.Fatalf("server sent %+v (%v), want unbind", p.Header, ok)
				}
				for i := 0; s.CloseReason() == smpp.CloseNone; i++ {
					if i == 1000 {
						t.Fatal("not closed after the unbind timeout")
					}
					clk.Advance(3 * time.Second)
					select {
					case <-s.Done():
					case <-time.After(10 * time.Millisecond):
					}
				}
				waitClosed(t, s, tt.closedAs)
				return
			}
			// Still open: it answers an enquire_link of its own.
			if _, err := conn.Write(header(16, pdu.CmdEnquireLink, 101)); err != nil {
				t.Fatal(err)
			}
			if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
				t.Fatalf("%+v (%v), want enquire_link_resp from a session left open", p.Header, ok)
			}
			if r := s.CloseReason(); r != smpp.CloseNone {
				t.Fatalf("a session that answers was closed as %s", r)
			}
		})
	}
}

// TestLateAnswerKeepsSessionAlive: an answer that comes after its request
// timed out still says the client is alive. Three deliver_sm at 0 s, 1 s
// and 5 s: the second answered at once, the first only after it timed out
// at 10 s, the third never. When the third times out at 15 s, the late
// answer (after the third was sent) keeps the session; without it the
// client answered nothing since the third was sent and is unbound.
func TestLateAnswerKeepsSessionAlive(t *testing.T) {
	for _, late := range []bool{true, false} {
		t.Run(fmt.Sprintf("late answer %v", late), func(t *testing.T) {
			ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: 10 * time.Second})
			conn := rawBoundFrom(t, attackerIP, ts.addr)
			s := sessionFrom(ts.srv, attackerIP)
			answered := make(chan error, 3)
			var seqs []uint32
			send := func() { seqs = append(seqs, sendDeliver(t, s, conn, answered)) }
			// sync writes the client's msg and its own enquire_link, and
			// waits for the answer: the server has read msg by then.
			sync := func(msg []byte, seq uint32) {
				t.Helper()
				if _, err := conn.Write(append(msg, header(16, pdu.CmdEnquireLink, seq)...)); err != nil {
					t.Fatal(err)
				}
				if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
					t.Fatalf("%+v (%v), want enquire_link_resp", p.Header, ok)
				}
			}
			send()
			clk.Advance(time.Second)
			send()
			sync(header(16, pdu.CmdDeliverSMResp, seqs[1]), 100)
			if err := <-answered; err != nil {
				t.Fatalf("the answered deliver_sm: %v", err)
			}
			clk.Advance(4 * time.Second)
			send()
			clk.Advance(5500 * time.Millisecond) // 10.5 s: the first timed out
			if err := <-answered; err != smpp.ErrTimeout {
				t.Fatalf("the first deliver_sm: %v, want ErrTimeout", err)
			}
			if r := s.CloseReason(); r != smpp.CloseNone {
				t.Fatalf("closed as %s after the first timed out, though the second was answered", r)
			}
			if late {
				sync(header(16, pdu.CmdDeliverSMResp, seqs[0]), 101)
			} else {
				sync(nil, 101)
			}
			clk.Advance(5 * time.Second) // 15.5 s: the third timed out
			if err := <-answered; err != smpp.ErrTimeout {
				t.Fatalf("the third deliver_sm: %v, want ErrTimeout", err)
			}
			if !late {
				if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdUnbind {
					t.Fatalf("server sent %+v (%v), want unbind: nothing answered since the third was sent", p.Header, ok)
				}
				return
			}
			sync(nil, 102)
			// Bound, not only open: an unbind started by mistake would
			// close only after the unbind timeout on the fake clock.
			if r := s.CloseReason(); r != smpp.CloseNone || !s.State().Bound() {
				t.Fatalf("a session whose late answer came after the third was sent was closed as %s, or is unbinding (%v)", r, s.State())
			}
		})
	}
}

// sendDeliver sends a deliver_sm on s, whose answer or error goes to
// answered, reads it on the client's conn and returns its sequence number.
func sendDeliver(t *testing.T, s *smpp.Session, conn net.Conn, answered chan<- error) uint32 {
	t.Helper()
	if err := s.Send(&pdu.DeliverSM{}, func(_ pdu.PDU, err error) { answered <- err }); err != nil {
		t.Fatal(err)
	}
	p, ok := readPDU(t, conn)
	if !ok || p.Command != pdu.CmdDeliverSM {
		t.Fatalf("server sent %+v (%v), want deliver_sm", p.Header, ok)
	}
	return p.Sequence
}

// TestShutdownAnswersADelayedBind: a bind waiting out its failed-bind
// delay when the server shuts down is answered (ESME_RBINDFAIL, its
// password unchecked) before the connection closes, not dropped; and the
// admin unbind finds no session on a connection that has not bound.
func TestShutdownAnswersADelayedBind(t *testing.T) {
	ts, clk := fakeClockServer(t, smpp.Options{BindTimeout: 10 * time.Second, FailedBindDelay: 4 * time.Second, MaxPrebindRequests: 100})
	conn := dialFrom(t, attackerIP, ts.addr)
	failFreeBinds(t, conn)
	s := sessionFrom(ts.srv, attackerIP)
	if ts.srv.UnbindSession(context.Background(), s.ID()) {
		t.Fatal("UnbindSession found a connection that has not bound")
	}
	drain(clk.Added())
	if _, err := conn.Write(bindFrame(4, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	waitAdded(t, clk) // the bind waits its delay
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(context.Background()) }()
	if p, ok := readPDU(t, conn); !ok || p.Sequence != 4 || p.Command != pdu.CmdBindTransceiverResp || p.Status != pdu.StatusBindFail {
		t.Fatalf("the delayed bind at shutdown: %+v (%v), want bind_transceiver_resp ESME_RBINDFAIL seq 4", p.Header, ok)
	}
	if p, ok := readPDU(t, conn); ok {
		t.Fatalf("the connection stayed open after the answer: %+v", p.Header)
	}
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
}

// failFreeBinds sends the wrong-password binds (sequence numbers 1 to 3)
// a connection gets without delay, and reads their answers: the next
// bind from its address waits before its check.
func failFreeBinds(t *testing.T, conn net.Conn) {
	t.Helper()
	for i := range 3 {
		if _, err := conn.Write(bindFrame(uint32(i+1), "testuser", "guess", 0x34)); err != nil {
			t.Fatal(err)
		}
		if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusInvPaswd {
			t.Fatalf("bind %d: %+v (%v)", i+1, p.Header, ok)
		}
	}
}

// TestLateAnswersOfAWholeWindowAreNotIdle: a receiver whose whole window
// of deliver_sm timed out and that then answers every one late is
// answering, not sending stray responses: none counts against
// MaxIdlePDUsPerSecond (the gateway remembers as many expired requests as
// the window holds, not only the last 64), so its reads are not paused.
func TestLateAnswersOfAWholeWindowAreNotIdle(t *testing.T) {
	const window = 200
	reg := prometheus.NewRegistry()
	ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: 10 * time.Second,
		Window: window, MaxIdlePDUsPerSecond: 100, Registerer: reg})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	answered := make(chan error, window)
	var seqs []uint32
	for range window {
		seqs = append(seqs, sendDeliver(t, s, conn, answered))
	}
	// The last is answered in time: the client is alive, not unbound.
	if _, err := conn.Write(header(16, pdu.CmdDeliverSMResp, seqs[window-1])); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("the answered deliver_sm: %v", err)
	}
	clk.Advance(20 * time.Second)
	for range window - 1 {
		if err := <-answered; err != smpp.ErrTimeout {
			t.Fatalf("an unanswered deliver_sm: %v, want ErrTimeout", err)
		}
	}
	var late []byte
	for _, seq := range seqs[:window-1] {
		late = append(late, header(16, pdu.CmdDeliverSMResp, seq)...)
	}
	late = append(late, header(16, pdu.CmdEnquireLink, 100)...)
	if _, err := conn.Write(late); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
		t.Fatalf("%+v (%v), want enquire_link_resp at once", p.Header, ok)
	}
	if got := counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", ""); got != 0 {
		t.Fatalf("smpp_idle_pdu_pauses_total = %v after late answers, want 0", got)
	}
	if r := s.CloseReason(); r != smpp.CloseNone || !s.State().Bound() {
		t.Fatalf("closed as %s (%v)", r, s.State())
	}
}

// TestReplayedLateAnswerIsIdle: a late answer counts once; the same
// answer sent again is a response to nothing, an idle PDU: a client cannot
// replay one old answer to look alive or to send without a bound.
func TestReplayedLateAnswerIsIdle(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, ResponseTimeout: 10 * time.Second,
		MaxIdlePDUsPerSecond: 5, Registerer: reg})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := sessionFrom(ts.srv, attackerIP)
	answered := make(chan error, 2)
	first := sendDeliver(t, s, conn, answered)
	second := sendDeliver(t, s, conn, answered)
	if _, err := conn.Write(header(16, pdu.CmdDeliverSMResp, second)); err != nil {
		t.Fatal(err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("the answered deliver_sm: %v", err)
	}
	clk.Advance(20 * time.Second)
	if err := <-answered; err != smpp.ErrTimeout {
		t.Fatalf("the unanswered deliver_sm: %v, want ErrTimeout", err)
	}
	var replay []byte
	for range 10 {
		replay = append(replay, header(16, pdu.CmdDeliverSMResp, first)...)
	}
	if _, err := conn.Write(replay); err != nil {
		t.Fatal(err)
	}
	if !waitCond(func() bool { return counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", "") == 1 }) {
		t.Fatal("nine replays of one late answer did not count against the idle-PDU budget of 5")
	}
	clk.Advance(time.Second) // the paused reader reads on, and the server stops at once
}
