package smpp_test

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// floodSubmits writes submit_sm frames to conn without reading anything
// until a write fails (the server closed the connection) or max frames
// (0: no limit) are written. It returns how many were written.
func floodSubmits(conn net.Conn, max int) int {
	one := frame(pdu.CmdSubmitSM, 0, submitBody("4915123456789", 5, "hello"))
	const perWrite = 256
	chunk := make([]byte, 0, perWrite*len(one))
	for range perWrite {
		chunk = append(chunk, one...)
	}
	n := 0
	for max == 0 || n < max {
		if _, err := conn.Write(chunk); err != nil {
			return n
		}
		n += perWrite
	}
	return n
}

// TestUnreadSubmitsEndAsSlowConsumer: a client that writes submit_sm and
// never reads the answers stalls only its own connection: the server's
// output buffer for it stays within SMPP_MAX_OUTPUT_BYTES, reading pauses,
// and when the buffer stays full past the slow-consumer timeout the
// session is closed as slow_consumer. Another session keeps submitting
// throughout without an error or a stall.
func TestUnreadSubmitsEndAsSlowConsumer(t *testing.T) {
	tests := []struct {
		name    string
		bind    bool
		prebind int
	}{
		{"bound", true, 0},
		// With the pre-bind limit out of the way, the output bound alone
		// stops a client that never binds.
		{"never bound", false, 1 << 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const maxOut = 16 << 10
			clk := smpp.NewFakeClock(t0)
			opts := smpp.Options{Clock: clk, MaxOutputBytes: maxOut, SlowConsumerTimeout: time.Minute,
				BindTimeout: 1000 * time.Hour, EnquireLinkInterval: -1, InactivityTimeout: -1, MaxPrebindRequests: tt.prebind}
			ts, reg := startServerOn(t, opts, func(l net.Listener) net.Listener { return smallBuffers{l} })
			k := startKeeper(t, ts.addr)

			conn := dialFrom(t, attackerIP, ts.addr)
			if tt.bind {
				if _, err := conn.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
					t.Fatal(err)
				}
				if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusOK {
					t.Fatalf("bind: %+v", p.Header)
				}
			}
			flooded := make(chan int, 1)
			go func() { flooded <- floodSubmits(conn, 0) }()

			// Each time the reader pauses on a full buffer it starts the
			// slow-consumer timer on the clock; the buffer never passes its
			// bound. Moving the clock past the timeout while the reader
			// is paused closes the session. (The writer may still drain a
			// little before the kernel buffers are full, which ends a
			// pause and starts a new one: the clock is moved again.)
			var s *smpp.Session
			paused := false
			poll := time.NewTicker(10 * time.Millisecond)
			defer poll.Stop()
			deadline := time.After(30 * time.Second)
			for closed := false; !closed; {
				select {
				case <-clk.Added():
				case <-poll.C:
				case <-done(s):
					closed = true
					continue
				case <-deadline:
					t.Fatalf("the flooding connection was neither paused nor closed (session %v, paused %v)", s != nil, paused)
				}
				if s == nil {
					if s = sessionFrom(ts.srv, attackerIP); s == nil {
						continue
					}
				}
				out := s.OutputBytesForTest()
				if out > maxOut+1024 {
					t.Fatalf("output buffer %d bytes, bound %d", out, maxOut)
				}
				if out >= maxOut {
					if !paused {
						paused = true
						k.waitProgress(t) // the other session is not stalled by the paused one
					}
					clk.Advance(time.Minute + time.Second)
				}
			}
			if !paused {
				t.Fatalf("closed as %s without the reader pausing", s.CloseReason())
			}
			if r := s.CloseReason(); r != smpp.CloseSlowConsumer {
				t.Fatalf("closed as %s, want slow_consumer", r)
			}
			n := <-flooded
			if got := counterValue(t, reg, "smpp_read_pauses_total", "", ""); got < 1 {
				t.Fatalf("smpp_read_pauses_total %v after %d submits", got, n)
			}
			k.waitProgress(t)
			k.check(t)
		})
	}
}

// done is s.Done(), or nil (blocks) while s is not known.
func done(s *smpp.Session) <-chan struct{} {
	if s == nil {
		return nil
	}
	return s.Done()
}

// TestPrebindRequestsAnsweredThenClosed: requests before a bind are each
// answered (ESME_RINVBNDSTS; an unknown command_id, response bit set or
// not, generic_nack; a bind that does not decode, the decoder's status),
// and after SMPP_MAX_PREBIND_REQUESTS of them the connection is closed.
// Malformed binds used to be answered without end: one connection had
// millions answered in seconds, none counted.
func TestPrebindRequestsAnsweredThenClosed(t *testing.T) {
	tests := []struct {
		name       string
		frame      func(seq uint32) []byte
		wantCmd    pdu.CommandID
		wantStatus pdu.Status
		wantReason string // close reason
		wantBinds  string // smpp_binds_total status counted per request ("": none)
	}{
		{"submit_sm", func(seq uint32) []byte {
			return frame(pdu.CmdSubmitSM, seq, submitBody("4915123456789", 5, "hello"))
		}, pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, "prebind_requests", ""},
		{"unknown response command_id", func(seq uint32) []byte {
			return frame(0x80000099, seq, nil)
		}, pdu.CmdGenericNack, pdu.StatusInvCmdID, "prebind_requests", ""},
		{"bind with a password too long", func(seq uint32) []byte {
			// system_id, password (9 characters: one over the field), system_type,
			// interface_version, addr_ton, addr_npi, address_range.
			return frame(pdu.CmdBindTransceiver, seq, []byte("testuser\x00123456789\x00\x00\x34\x00\x00\x00"))
		}, pdu.CmdBindTransceiverResp, pdu.StatusInvPaswd, "bind_failed", "ESME_RINVPASWD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, reg := startServerOn(t, smpp.Options{MaxPrebindRequests: 4}, nil)
			k := startKeeper(t, ts.addr)
			conn := dialFrom(t, attackerIP, ts.addr)
			for i := range 4 {
				if _, err := conn.Write(tt.frame(uint32(i + 1))); err != nil {
					t.Fatal(err)
				}
				p, ok := readPDU(t, conn)
				if !ok || p.Command != tt.wantCmd || p.Status != tt.wantStatus || p.Sequence != uint32(i+1) {
					t.Fatalf("request %d before bind: %+v (%v)", i+1, p.Header, ok)
				}
			}
			if p, ok := readPDU(t, conn); ok {
				t.Fatalf("the connection stayed open after the pre-bind limit: %+v", p.Header)
			}
			k.waitProgress(t)
			k.check(t)
			if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", tt.wantReason); got != 1 {
				t.Fatalf("closed as %s: %v, want 1", tt.wantReason, got)
			}
			if tt.wantBinds != "" {
				if got := counterValue(t, reg, "smpp_binds_total", "status", tt.wantBinds); got != 4 {
					t.Fatalf("smpp_binds_total{status=%q} %v, want 4", tt.wantBinds, got)
				}
			}
		})
	}
}

// served reports whether a raw connection is served (answers enquire_link).
func served(t *testing.T, conn net.Conn) bool {
	t.Helper()
	_, ok := readPDUOrEnquire(t, conn)
	return ok
}

// TestAdmissionCaps: one address cannot hold more than its share of
// connections, connections that never bind cannot take every slot, and a
// connection over a cap is refused at once and counted by reason.
func TestAdmissionCaps(t *testing.T) {
	ts, reg := startServerOn(t, smpp.Options{MaxConnectionsPerIP: 2, MaxUnboundConnections: 3}, nil)
	k := startKeeper(t, ts.addr) // bound: one of keeperIP's two, no unbound slot
	a1, a2 := dialFrom(t, attackerIP, ts.addr), dialFrom(t, attackerIP, ts.addr)
	if !served(t, a1) || !served(t, a2) {
		t.Fatal("connections within the per-address cap were refused")
	}
	if served(t, dialFrom(t, attackerIP, ts.addr)) {
		t.Fatal("a third connection from one address was served with SMPP_MAX_CONNECTIONS_PER_IP=2")
	}
	g1 := dialFrom(t, goodIP, ts.addr)
	if !served(t, g1) {
		t.Fatal("another address was refused")
	}
	// Unbound: attackerIP 2, goodIP 1, at the cap of 3. goodIP holding
	// one already is refused (the attacker holds only one more)...
	if served(t, dialFrom(t, goodIP, ts.addr)) {
		t.Fatal("a fourth unbound connection was served with SMPP_MAX_UNBOUND_CONNECTIONS=3 from an address holding one")
	}
	// ...keeperIP, holding none, takes the place of the attacker's oldest.
	k2 := dialFrom(t, keeperIP, ts.addr)
	if !served(t, k2) {
		t.Fatal("an address holding no unbound connection was refused while another held two")
	}
	if p, ok := readPDU(t, a1); ok {
		t.Fatalf("the attacker's oldest unbound connection stayed open: %+v", p.Header)
	}
	if !served(t, a2) {
		t.Fatal("the attacker's newer connection was closed instead of its oldest")
	}
	if _, err := g1.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, g1); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("bind: %+v", p.Header)
	}
	if !served(t, dialFrom(t, goodIP, ts.addr)) {
		t.Fatal("a bound connection still counts as unbound")
	}
	k.waitProgress(t)
	k.check(t)
	for reason, want := range map[string]float64{"too_many_from_address": 1, "too_many_unbound": 1} {
		if got := counterValue(t, reg, "smpp_connections_refused_total", "reason", reason); got != want {
			t.Errorf("smpp_connections_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "unbound_evicted"); got != 1 {
		t.Errorf("smpp_connections_closed_total{reason=\"unbound_evicted\"} = %v, want 1", got)
	}
}

// TestTwoAddressesCannotShutOutOthers: two addresses each within their
// own cap fill every unbound place with connections that never bind; a
// client from a third address still binds at once, each time taking the
// place of the oldest unbound connection of the address holding the most.
func TestTwoAddressesCannotShutOutOthers(t *testing.T) {
	ts, reg := startServerOn(t, smpp.Options{MaxConnectionsPerIP: 10, MaxUnboundConnections: 20}, nil)
	var held []net.Conn
	for _, ip := range []string{attackerIP, attackerIP2} {
		for range 10 {
			c := dialFrom(t, ip, ts.addr)
			if !served(t, c) {
				t.Fatal("a connection within the caps was refused")
			}
			held = append(held, c)
		}
	}
	// Three connections from the third address before any binds: each
	// takes a place of an attacker's.
	var good []net.Conn
	for range 3 {
		g := dialFrom(t, goodIP, ts.addr)
		if !served(t, g) { // accepted before the next is dialled
			t.Fatal("a connection from a third address was refused")
		}
		good = append(good, g)
	}
	for i, g := range good {
		if _, err := g.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
			t.Fatal(err)
		}
		if p, ok := readPDU(t, g); !ok || p.Status != pdu.StatusOK {
			t.Fatalf("bind %d from a third address with every unbound place taken: %+v (%v)", i, p.Header, ok)
		}
	}
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "unbound_evicted"); got != 3 {
		t.Errorf("smpp_connections_closed_total{reason=\"unbound_evicted\"} = %v, want 3", got)
	}
	if got := counterValue(t, reg, "smpp_connections_refused_total", "reason", "too_many_unbound"); got != 0 {
		t.Errorf("smpp_connections_refused_total{reason=\"too_many_unbound\"} = %v, want 0", got)
	}
}

// TestFailedBindFloodNeverBlocksGoodBinds: 150 wrong-password binds per
// second from one address against an account; meanwhile every bind of
// that account from another address succeeds, another session keeps
// submitting, every flooding bind that is read gets its answer (none is
// closed by the bind timeout), and the flooding address ends up blocked,
// counted once. SMPP_SOAK_BIND_SECONDS lengthens the flood.
func TestFailedBindFloodNeverBlocksGoodBinds(t *testing.T) {
	seconds := 1
	if v, err := strconv.Atoi(os.Getenv("SMPP_SOAK_BIND_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	ts, reg := startServerOn(t, smpp.Options{MaxConnectionsPerIP: 100, MaxUnboundConnections: 200}, nil)
	k := startKeeper(t, ts.addr)

	var wg sync.WaitGroup
	var answered, unanswered atomic.Int64
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / 150)
		defer tick.Stop()
		for range 150 * seconds {
			select {
			case <-tick.C:
			case <-stop:
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(attackerIP)}}
				conn, err := d.Dial("tcp", ts.addr)
				if err != nil {
					return
				}
				defer conn.Close()
				if _, err := conn.Write(bindFrame(1, "testuser", "guess", 0x34)); err != nil {
					unanswered.Add(1)
					return
				}
				if p, ok := readPDU(t, conn); ok && (p.Status == pdu.StatusInvPaswd || p.Status == pdu.StatusBindFail) {
					answered.Add(1)
				} else {
					unanswered.Add(1)
				}
			}()
		}
	}()
	defer close(stop)

	spread := time.NewTicker(100 * time.Millisecond) // the good binds spread over the flood
	defer spread.Stop()
	for i := range 10 * seconds {
		<-spread.C
		ctx := ctxT(t)
		c, err := esme.Dial(ctx, esme.Config{Addr: ts.addr, SystemID: "testuser", Password: "testpass", LocalAddr: goodIP})
		if err != nil {
			t.Fatalf("good bind %d from another address during the flood: %v", i+1, err)
		}
		if err := c.Unbind(ctx); err != nil {
			t.Fatalf("unbind %d: %v", i+1, err)
		}
		_ = c.Close()
	}
	wg.Wait()
	k.waitProgress(t)
	k.check(t)
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "bind_timeout"); got != 0 {
		t.Fatalf("%v flooding binds were closed by the bind timeout instead of answered", got)
	}
	if got := counterValue(t, reg, "smpp_bind_addresses_blocked_total", "", ""); got != 1 {
		t.Fatalf("smpp_bind_addresses_blocked_total = %v, want 1", got)
	}
	t.Logf("flooding binds: %d answered, %d refused at accept; refused: from_address %v, blocked %v",
		answered.Load(), unanswered.Load(),
		counterValue(t, reg, "smpp_connections_refused_total", "reason", "too_many_from_address"),
		counterValue(t, reg, "smpp_connections_refused_total", "reason", "address_blocked"))
}

// TestClientUnbindHonoursLateDeliverSMResp: a deliver_sm_resp the client
// sends right after its unbind is read and completes the deliver_sm (it is
// not failed, so the receipt is not sent again after the next bind).
func TestClientUnbindHonoursLateDeliverSMResp(t *testing.T) {
	ts, _ := startServerOn(t, smpp.Options{}, nil)
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	s := ts.srv.NextReceiver("testuser")
	type result struct {
		p   pdu.PDU
		err error
	}
	done := make(chan result, 1)
	if err := s.Send(&pdu.DeliverSM{SM: pdu.SM{ESMClass: 4, ShortMessage: "id:1"}}, func(p pdu.PDU, err error) {
		done <- result{p, err}
	}); err != nil {
		t.Fatal(err)
	}
	d, ok := readPDU(t, conn)
	if !ok || d.Command != pdu.CmdDeliverSM {
		t.Fatal("no deliver_sm")
	}
	both := append(header(16, pdu.CmdUnbind, 2),
		pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdDeliverSMResp, Sequence: d.Sequence}, Body: &pdu.DeliverSMResp{}})...)
	if _, err := conn.Write(both); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdUnbindResp {
		t.Fatalf("unbind answered %+v", p.Header)
	}
	if r := <-done; r.err != nil || r.p.Status != pdu.StatusOK {
		t.Fatalf("deliver_sm completed with %v %v, want the client's ESME_ROK", r.p.Status, r.err)
	}
	conn.Close()
	<-s.Done()
	if r := s.CloseReason(); r != smpp.CloseUnbind {
		t.Fatalf("closed as %s, want unbind", r)
	}
}

// TestShutdownWaitsUnbindTimeoutOnly: a client that never answers the
// server's unbind is closed after SMPP_UNBIND_TIMEOUT_SECONDS, not after
// the whole shutdown window.
func TestShutdownWaitsUnbindTimeoutOnly(t *testing.T) {
	clk := smpp.NewFakeClock(t0)
	ts, _ := startServerOn(t, smpp.Options{Clock: clk, UnbindTimeout: 2 * time.Second, ResponseTimeout: time.Hour,
		EnquireLinkInterval: -1, InactivityTimeout: -1}, nil)
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	drain(clk.Added())
	shut := make(chan error, 1)
	go func() { shut <- ts.srv.Shutdown(ctxT(t)) }()
	if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdUnbind {
		t.Fatalf("no unbind from the server: %+v", p.Header)
	}
	select {
	case <-clk.Added(): // the unbind timer
	case <-time.After(20 * time.Second):
		t.Fatal("no unbind timer")
	}
	clk.Advance(2 * time.Second)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestInterfaceVersion33GetsNoTLV: a v3.3 peer gets a bind_resp without
// sc_interface_version and receipts without optional parameters; a v3.4
// peer gets both.
func TestInterfaceVersion33GetsNoTLV(t *testing.T) {
	for _, tt := range []struct {
		version uint8
		tlvs    bool
	}{{0x33, false}, {0x34, true}} {
		t.Run(strconv.FormatUint(uint64(tt.version), 16), func(t *testing.T) {
			ts, _ := startServerOn(t, smpp.Options{}, nil)
			conn := dialFrom(t, attackerIP, ts.addr)
			if _, err := conn.Write(bindFrame(1, "testuser", "testpass", tt.version)); err != nil {
				t.Fatal(err)
			}
			p, ok := readPDU(t, conn)
			if !ok || p.Status != pdu.StatusOK {
				t.Fatalf("bind: %+v", p.Header)
			}
			br := p.Body.(*pdu.BindResp)
			if _, has := br.TLVs.Get(pdu.TagSCInterfaceVersion); has != tt.tlvs {
				t.Fatalf("bind_resp sc_interface_version present: %v, want %v", has, tt.tlvs)
			}
			receipt := &pdu.DeliverSM{SM: pdu.SM{ESMClass: 4, ShortMessage: "id:1 sub:001 dlvrd:001 stat:DELIVRD err:000 text:",
				TLVs: pdu.TLVs("").WithCString(pdu.TagReceiptedMessageID, "1").WithUint8(pdu.TagMessageState, 2)}}
			if err := ts.srv.NextReceiver("testuser").Send(receipt, func(pdu.PDU, error) {}); err != nil {
				t.Fatal(err)
			}
			d, ok := readPDU(t, conn)
			if !ok || d.Command != pdu.CmdDeliverSM {
				t.Fatal("no deliver_sm")
			}
			got := d.Body.(*pdu.DeliverSM)
			if (got.TLVs != "") != tt.tlvs || got.ShortMessage != receipt.ShortMessage {
				t.Fatalf("deliver_sm TLVs %q text %q; want TLVs: %v and the receipt text", got.TLVs, got.ShortMessage, tt.tlvs)
			}
		})
	}
}

// TestPipelinedFailedBindsEndAtTheBindTimeout: a bind whose slow-down
// would end after the connection's bind timeout is answered ESME_RBINDFAIL
// at once, logged as a failed bind, and the connection closed as
// bind_failed; pipelined binds cannot keep an unbound connection past
// SMPP_BIND_TIMEOUT_SECONDS.
func TestPipelinedFailedBindsEndAtTheBindTimeout(t *testing.T) {
	clk := smpp.NewFakeClock(t0)
	logged := &lockedBuffer{}
	ts, reg := startServerOn(t, smpp.Options{Clock: clk, BindTimeout: 10 * time.Second, FailedBindDelay: time.Second,
		EnquireLinkInterval: -1, InactivityTimeout: -1, Logger: slog.New(slog.NewTextHandler(logged, nil))}, nil)
	conn := dialFrom(t, attackerIP, ts.addr)
	for i := range 3 { // the failures a client gets without delay
		if _, err := conn.Write(bindFrame(uint32(i+1), "testuser", "wrong", 0x34)); err != nil {
			t.Fatal(err)
		}
		if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusInvPaswd {
			t.Fatalf("bind %d: %+v (%v)", i+1, p.Header, ok)
		}
	}
	clk.Advance(9500 * time.Millisecond) // 0.5 s of the bind timeout left, the next delay is 1 s
	if _, err := conn.Write(bindFrame(4, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Sequence != 4 || p.Status != pdu.StatusBindFail {
		t.Fatalf("bind that would outlast the bind timeout: %+v (%v), want ESME_RBINDFAIL at once", p.Header, ok)
	}
	if p, ok := readPDU(t, conn); ok {
		t.Fatalf("the connection stayed open: %+v", p.Header)
	}
	if err := ts.srv.Shutdown(ctxT(t)); err != nil { // returns once the session is counted
		t.Fatal(err)
	}
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "bind_failed"); got != 1 {
		t.Fatalf("closed as bind_failed: %v, want 1", got)
	}
	if !strings.Contains(logged.String(), "msg=smpp.bind.failed") || !strings.Contains(logged.String(), "status=ESME_RBINDFAIL") {
		t.Fatalf("the bind refused unchecked was not logged as smpp.bind.failed with its status:\n%s", logged.String())
	}
}

// lockedBuffer is a bytes.Buffer that sessions may log into concurrently.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestUnreadSessionsShareOneOutputBound: several clients that submit and
// never read each stay far below their own SMPP_MAX_OUTPUT_BYTES once all
// of them together hold SMPP_MAX_OUTPUT_BYTES_TOTAL beyond their 64 KiB
// floors: each stops being read at its floor (plus what its window still
// adds), they are closed as slow_consumer when that lasts, the shared
// count returns to zero, and a session that reads is never held back.
func TestUnreadSessionsShareOneOutputBound(t *testing.T) {
	const (
		attackers = 4
		maxOut    = 1 << 20
		maxTotal  = 128 << 10
		// What a paused session may still get past its floor: the
		// answers to the requests it had in flight (a window of 256
		// submit_sm_resp) and the last request's answer.
		slack = 16 << 10
	)
	clk := smpp.NewFakeClock(t0)
	opts := smpp.Options{Clock: clk, MaxOutputBytes: maxOut, MaxOutputBytesTotal: maxTotal, SlowConsumerTimeout: time.Minute,
		BindTimeout: 1000 * time.Hour, EnquireLinkInterval: -1, InactivityTimeout: -1}
	ts, reg := startServerOn(t, opts, func(l net.Listener) net.Listener { return smallBuffers{l} })
	k := startKeeper(t, ts.addr)

	var flooding sync.WaitGroup
	for range attackers {
		conn := rawBoundFrom(t, attackerIP, ts.addr)
		flooding.Go(func() { floodSubmits(conn, 0) })
	}
	fromAttacker := func() []*smpp.Session {
		var out []*smpp.Session
		for _, s := range ts.srv.OpenSessionsForTest() {
			if s.RemoteAddr().String() == attackerIP {
				out = append(out, s)
			}
		}
		return out
	}
	// Wait until the shared bound is reached and every flooding session
	// has been paused (each pause counted), checking the bound on the way.
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	deadline := time.After(30 * time.Second)
	for {
		var sum int64
		for _, s := range fromAttacker() {
			out := s.OutputBytesForTest()
			if out > smpp.OutputFloorBytes+maxTotal+slack {
				t.Fatalf("a session holds %d bytes: the shared bound (%d beyond %d each) did not hold it", out, maxTotal, smpp.OutputFloorBytes)
			}
			sum += out
		}
		if limit := int64(maxTotal + attackers*(smpp.OutputFloorBytes+slack)); sum > limit {
			t.Fatalf("the flooding sessions hold %d bytes together, bound %d", sum, limit)
		}
		shared := gaugeValue(t, reg, "smpp_output_shared_bytes")
		if shared >= maxTotal && counterValue(t, reg, "smpp_read_pauses_total", "", "") >= attackers {
			break
		}
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatalf("the shared bound was not reached: smpp_output_shared_bytes %v, pauses %v", shared,
				counterValue(t, reg, "smpp_read_pauses_total", "", ""))
		}
	}
	k.waitProgress(t) // the session that reads is not held back

	// Paused past the slow-consumer timeout, each is closed; a session
	// whose writer drained a little pauses again and waits for the clock.
	for deadline := time.After(30 * time.Second); len(fromAttacker()) > 0; {
		clk.Advance(time.Minute + time.Second)
		select {
		case <-poll.C:
		case <-deadline:
			t.Fatalf("%d flooding sessions still open", len(fromAttacker()))
		}
	}
	flooding.Wait()
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "slow_consumer"); got != attackers {
		t.Errorf("slow_consumer closes %v, want %d", got, attackers)
	}
	if got := gaugeValue(t, reg, "smpp_output_shared_bytes"); got != 0 {
		t.Errorf("smpp_output_shared_bytes %v once the flooding sessions closed, want 0", got)
	}
	k.waitProgress(t)
	k.check(t)
}

// gaugeValue is the value of the unlabelled gauge name in reg (0: absent).
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// TestSecondBindCountedByStatus: a bind on a bound session is answered
// ESME_RALYBND and counted under that status in smpp_binds_total, as
// every bind answer is (the series existed but never moved).
func TestSecondBindCountedByStatus(t *testing.T) {
	ts, reg := startServerOn(t, smpp.Options{}, nil)
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	if _, err := conn.Write(bindFrame(2, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusAlyBnd || p.Sequence != 2 {
		t.Fatalf("second bind: %+v (%v), want ESME_RALYBND", p.Header, ok)
	}
	for status, want := range map[string]float64{"ESME_ROK": 1, "ESME_RALYBND": 1} {
		if got := counterValue(t, reg, "smpp_binds_total", "status", status); got != want {
			t.Errorf("smpp_binds_total{status=%q} %v, want %v", status, got, want)
		}
	}
}

// TestBindsOverMaxBindsAreNotFailures: binds with the right password
// refused because the account's max_binds are taken are answered
// ESME_RBINDFAIL without delay and do not count against the address:
// a client reconnecting over its limit used to have its address slowed
// down and then blocked, every other account's binds from it refused.
func TestBindsOverMaxBindsAreNotFailures(t *testing.T) {
	ts, _ := startServerOn(t, smpp.Options{MaxFailedBinds: 3, FailedBindDelay: time.Hour, BindTimeout: time.Minute}, nil)
	held := dialFrom(t, attackerIP, ts.addr)
	if _, err := held.Write(bindFrame(1, "limited", "pw", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, held); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("first bind of limited: %+v (%v)", p.Header, ok)
	}
	for i := range 5 {
		conn := dialFrom(t, attackerIP, ts.addr)
		if _, err := conn.Write(bindFrame(1, "limited", "pw", 0x34)); err != nil {
			t.Fatal(err)
		}
		// A delay of an hour would be longer than the bind timeout: a
		// bind counted as failed would be refused unchecked, and the
		// address blocked after three.
		if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusBindFail {
			t.Fatalf("bind %d over max_binds: %+v (%v), want ESME_RBINDFAIL", i+1, p.Header, ok)
		}
	}
	other := dialFrom(t, attackerIP, ts.addr)
	if _, err := other.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, other); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("another account's bind from the address after the refusals: %+v (%v), want ESME_ROK", p.Header, ok)
	}
}

// TestConnectionCapEvictsUnbound: with the unbound cap not below the
// connection cap, two addresses' connections that never bind fill every
// place before the unbound cap is reached; a connection from an address
// holding none then takes the place of the oldest unbound one, as at the
// unbound cap, instead of being refused. It used to be refused, so two
// addresses within their own cap kept every other client out.
func TestConnectionCapEvictsUnbound(t *testing.T) {
	ts, reg := startServerOn(t, smpp.Options{MaxConnections: 4, MaxConnectionsPerIP: 2, MaxUnboundConnections: 200}, nil)
	a1, a2 := dialFrom(t, attackerIP, ts.addr), dialFrom(t, attackerIP, ts.addr)
	k1, k2 := dialFrom(t, keeperIP, ts.addr), dialFrom(t, keeperIP, ts.addr)
	for _, c := range []net.Conn{a1, a2, k1, k2} {
		if !served(t, c) {
			t.Fatal("a connection within the caps was refused")
		}
	}
	g := dialFrom(t, goodIP, ts.addr)
	if !served(t, g) {
		t.Fatal("an address holding no connection was refused at the connection cap while others held unbound ones")
	}
	if _, err := g.Write(bindFrame(1, "testuser", "testpass", 0x34)); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, g); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("bind: %+v", p.Header)
	}
	if got := counterValue(t, reg, "smpp_connections_closed_total", "reason", "unbound_evicted"); got != 1 {
		t.Errorf("smpp_connections_closed_total{reason=\"unbound_evicted\"} = %v, want 1", got)
	}
	// One holding as many unbound connections as any other is refused.
	ts2, reg2 := startServerOn(t, smpp.Options{MaxConnections: 2, MaxConnectionsPerIP: 2, MaxUnboundConnections: 200}, nil)
	dialFrom(t, attackerIP, ts2.addr)
	dialFrom(t, goodIP, ts2.addr)
	if served(t, dialFrom(t, keeperIP, ts2.addr)) {
		t.Fatal("a connection was served beyond the connection cap with no address holding two more unbound than its own")
	}
	if got := counterValue(t, reg2, "smpp_connections_refused_total", "reason", "too_many_connections"); got != 1 {
		t.Errorf("smpp_connections_refused_total{reason=\"too_many_connections\"} = %v, want 1", got)
	}
}
