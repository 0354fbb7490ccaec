package smpp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Errors of the server's own requests.
var (
	ErrSessionClosed = errors.New("smpp: session closed")
	ErrNotReceiver   = errors.New("smpp: session is not bound as a receiver")
	ErrWindowFull    = errors.New("smpp: too many requests awaiting a response")
	ErrOutputFull    = errors.New("smpp: the client is not reading: output buffer full")
	ErrTimeout       = errors.New("smpp: response timeout")
	// ErrWrongResponse: the answer carried the request's sequence number
	// but another command's response (or a generic_nack saying ESME_ROK):
	// the client did not say it took the request.
	ErrWrongResponse error = answeredError("smpp: answered with a response to another command")
	ErrServerClosed        = errors.New("smpp: server closed")
)

// answeredError is the error of a request the client answered, but not
// with what takes it. ReceiverAnswered tells the receipt dispatcher, which
// pauses an account whose receivers refuse receipts, that it was an
// answer (unlike a timeout or a lost connection).
type answeredError string

func (e answeredError) Error() string { return string(e) }

// ReceiverAnswered reports that the client did answer.
func (answeredError) ReceiverAnswered() bool { return true }

// Session is one client connection.
type Session struct {
	srv     *Server
	conn    net.Conn
	id      uint64
	remote  netip.Addr
	opened  time.Time
	tlsConn bool

	state atomic.Int32
	bind  atomic.Pointer[binding] // set by a successful bind

	seq      atomic.Uint32
	inflight atomic.Int32
	idle     chan struct{} // signalled when inflight drops to zero while unbinding
	lastRead atomic.Int64  // monotonic nanoseconds from opened to the read that completed the last PDU of any kind
	// lastAnswer is when the client last answered one of our requests:
	// monotonic nanoseconds from opened, plus one (0: never).
	lastAnswer atomic.Int64
	// lastReceiptAnswer is the same for our deliver_sm only: a receiver
	// that answers enquire_link but no receipt is no receiver.
	lastReceiptAnswer atomic.Int64
	selfUnbinding     atomic.Bool // being unbound by the gateway itself: answering nothing (expirePending) or silent (onTick)
	readPaused        atomic.Bool // the reader waits for output room: answers may sit unread

	binding        atomic.Bool   // a bind is being checked: the session-init timer waits for its answer
	bindDone       chan struct{} // signalled when a bind's check ends (unbindAndClose waits for its answer)
	unbinding      chan struct{} // closed when the session leaves for good (beginUnbinding): a bind's delay ends
	legacy         atomic.Bool   // interface_version below 0x34: nothing sent carries a TLV
	countedUnbound atomic.Bool   // counted by admission as not yet bound
	evicted        atomic.Bool   // closed to make room at the unbound cap: it may not bind (srv.mu)
	clientUnbound  atomic.Bool   // the client sent unbind
	// unbindReason is the reason of the gateway's own unbind under way
	// (CloseNone: none): a client that answers it and closes at once
	// closes for that reason, not as a peer.
	unbindReason atomic.Int32
	idleSpent    idleBudget // PDUs that do no work, this second; reader only
	idleLogged   bool       // smpp.session.idle_pdus_paused logged; reader only
	prebind      int        // requests read before a bind; reader goroutine only
	stopReading  bool       // the reader stops: the session closes once its answers are written; reader only
	batch        ReadBatch  // the handler's, when it is a ReadBatcher; reader only
	batchUsed    bool       // requests were served since batch.EndRead; reader only

	wmu        sync.Mutex
	out        []byte
	writing    int          // bytes of the batch the writer is writing
	outBytes   atomic.Int64 // len(out) + writing, for the reader's bound check
	outOver    int64        // outBytes beyond OutputFloorBytes as last added to Server.outOver
	outClosed  bool         // closed: nothing counts in Server.outOver any more
	drained    chan struct{}
	closeAfter CloseReason // close once out is flushed
	kick       chan struct{}

	pmu          sync.Mutex
	pending      map[uint32]outbound
	expired      expiredRing   // requests of ours that timed out lately, whose late answers still count
	pendingEmpty chan struct{} // signalled when pending becomes empty
	pinging      bool

	done      chan struct{}
	closeOnce sync.Once
	reason    atomic.Int32

	stats sessionStats
}

type binding struct {
	account *AccountState
	mode    BindMode
	boundAt time.Time
}

type outbound struct {
	sent     time.Time
	deadline time.Time
	done     func(pdu.PDU, error)
	cmd      pdu.CommandID // the request's
	receipt  bool          // a deliver_sm
}

func newSession(srv *Server, conn net.Conn, id uint64) *Session {
	s := &Session{
		srv:          srv,
		conn:         conn,
		id:           id,
		opened:       srv.opts.Clock.Now(),
		idle:         make(chan struct{}, 1),
		kick:         make(chan struct{}, 1),
		drained:      make(chan struct{}, 1),
		pending:      make(map[uint32]outbound),
		pendingEmpty: make(chan struct{}, 1),
		unbinding:    make(chan struct{}),
		bindDone:     make(chan struct{}, 1),
		done:         make(chan struct{}),
		out:          make([]byte, 0, 4096),
	}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		s.remote = ap.Addr().Unmap()
	}
	return s
}

// sinceOpened is the monotonic time since the session opened.
func (s *Session) sinceOpened(now time.Time) time.Duration { return now.Sub(s.opened) }

// touch records that a whole PDU arrived at the clock reading arrived,
// for the inactivity timer. Bytes that do not complete a PDU are no
// activity: a client trickling a frame out does not keep its session.
func (s *Session) touch(arrived time.Time) {
	s.lastRead.Store(int64(s.sinceOpened(arrived)))
}

// idleFor is how long nothing has arrived from the client.
func (s *Session) idleFor(now time.Time) time.Duration {
	return s.sinceOpened(now) - time.Duration(s.lastRead.Load())
}

// ID is unique among the server's sessions.
func (s *Session) ID() uint64 { return s.id }

// State returns the session's current state.
func (s *Session) State() State { return State(s.state.Load()) }

// SystemID is the bound account's system_id, or "" before the bind.
func (s *Session) SystemID() string {
	if b := s.bind.Load(); b != nil {
		return b.account.SystemID
	}
	return ""
}

// ReadBatch is the handler's ReadBatch for this session's reader, nil when
// the Handler is not a ReadBatcher. Only the reader goroutine may use it:
// from ServeSMPP, not from a goroutine that answers later.
func (s *Session) ReadBatch() ReadBatch { return s.batch }

// Account is the bound account, or nil before the bind.
func (s *Session) Account() *AccountState {
	if b := s.bind.Load(); b != nil {
		return b.account
	}
	return nil
}

// Mode is the bind mode, or 0 before the bind.
func (s *Session) Mode() BindMode {
	if b := s.bind.Load(); b != nil {
		return b.mode
	}
	return 0
}

// RemoteAddr is the client's address.
func (s *Session) RemoteAddr() netip.Addr { return s.remote }

// Done is closed when the session has closed.
func (s *Session) Done() <-chan struct{} { return s.done }

// CloseReason is why the session closed, or CloseNone while it is open.
func (s *Session) CloseReason() CloseReason { return CloseReason(s.reason.Load()) }

func (s *Session) log() *slog.Logger { return s.srv.log }

// nextSeq returns the next sequence number for our own requests,
// 1..0x7FFFFFFF, wrapping.
func (s *Session) nextSeq() uint32 {
	for {
		n := s.seq.Add(1)
		if n <= 0x7FFFFFFF {
			return n
		}
		s.seq.CompareAndSwap(n, 0)
	}
}

func (s *Session) requestDone() {
	if s.inflight.Add(-1) == 0 && s.State() == StateUnbinding {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// waitIdle waits until no request is in flight, ctx ends or the session
// closes. The idle token wakes one waiter; a second one (the client's
// unbind and a shutdown at once) re-checks on a short tick instead of
// sleeping until its deadline.
func (s *Session) waitIdle(ctx context.Context) bool {
	var tick *time.Ticker
	for s.inflight.Load() > 0 {
		if tick == nil {
			tick = time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
		}
		select {
		case <-s.idle:
		case <-tick.C:
		case <-ctx.Done():
			return false
		case <-s.done:
			return false
		}
	}
	return true
}

// Send sends one of the server's requests (deliver_sm, enquire_link,
// unbind) and calls done exactly once with the response, or with
// ErrTimeout or ErrSessionClosed. done runs on the session's reader or
// writer goroutine and must not block.
func (s *Session) Send(body pdu.Body, done func(resp pdu.PDU, err error)) error {
	return s.send(body, s.srv.opts.ResponseTimeout, done)
}

func (s *Session) send(body pdu.Body, timeout time.Duration, done func(resp pdu.PDU, err error)) error {
	if body.CommandID() == pdu.CmdDeliverSM && !s.State().CanReceive() {
		return ErrNotReceiver
	}
	// The shared bound holds back receipts only: unbind and enquire_link
	// are small and end or test a session that may be the one holding
	// the output.
	if n := s.outBytes.Load(); s.ownFull(n) || (body.CommandID() == pdu.CmdDeliverSM && s.sharedFull(n)) {
		return ErrOutputFull // a receipt goes to another receiver, or waits
	}
	s.pmu.Lock()
	select {
	case <-s.done:
		s.pmu.Unlock()
		return ErrSessionClosed
	default:
	}
	receipt := body.CommandID() == pdu.CmdDeliverSM
	// The window bounds receipts: unbind and enquire_link end or test a
	// session whose window may be full of receipts it does not answer
	// (a shutdown, an operator's unbind), and must still go out.
	if receipt && len(s.pending) >= s.srv.opts.Window {
		s.pmu.Unlock()
		return ErrWindowFull
	}
	seq := s.nextSeq()
	now := s.srv.opts.Clock.Now()
	s.pending[seq] = outbound{sent: now, deadline: now.Add(timeout), done: done, cmd: body.CommandID(), receipt: receipt}
	s.pmu.Unlock()
	if receipt {
		s.stats.receiptsSent.Add(1)
	}
	s.writePDU(pdu.PDU{Header: pdu.Header{Command: body.CommandID(), Sequence: seq}, Body: s.forPeer(body)})
	return nil
}

// room is how many more requests fit in the session's outbound window.
func (s *Session) room() int {
	if !s.State().CanReceive() {
		return 0
	}
	s.pmu.Lock()
	defer s.pmu.Unlock()
	return max(s.srv.opts.Window-len(s.pending), 0)
}

// SendWait is Send that blocks until the response, a timeout or ctx.
func (s *Session) SendWait(ctx context.Context, body pdu.Body) (pdu.PDU, error) {
	type result struct {
		p   pdu.PDU
		err error
	}
	ch := make(chan result, 1)
	if err := s.Send(body, func(p pdu.PDU, err error) { ch <- result{p, err} }); err != nil {
		return pdu.PDU{}, err
	}
	select {
	case r := <-ch:
		return r.p, r.err
	case <-ctx.Done():
		return pdu.PDU{}, ctx.Err()
	}
}

// handleResponse completes one of our requests.
// handleResponse settles the request p answers and reports whether it
// answered one (a response to nothing sent, or late, is idle:
// MaxIdlePDUsPerSecond).
func (s *Session) handleResponse(p pdu.PDU, decodeErr error) (matched bool) {
	s.pmu.Lock()
	ob, ok := s.pending[p.Sequence]
	late, lateReceipt := false, false
	if ok {
		delete(s.pending, p.Sequence)
		s.signalIfNoPending()
	} else {
		late, lateReceipt = s.expired.take(p.Sequence)
	}
	s.pmu.Unlock()
	// Matched, or late to a request that timed out lately: the client
	// answers, so it is alive (expirePending); lastRead is the read that
	// brought p. A response to nothing we sent says nothing: a stray
	// deliver_sm_resp must not keep a receiver that answers no receipt.
	if ok || late {
		at := s.lastRead.Load() + 1
		s.lastAnswer.Store(at)
		if (ok && ob.receipt) || lateReceipt {
			s.lastReceiptAnswer.Store(at)
		}
	}
	if !ok {
		s.log().Debug("smpp.response.unmatched", "session", s.id, "command", p.Command.String(), "sequence", p.Sequence)
		return late
	}
	if !answers(p, ob.cmd) {
		s.log().Debug("smpp.response.mismatched", "session", s.id, "command", p.Command.String(),
			"status", p.Status.String(), "request", ob.cmd.String(), "sequence", p.Sequence)
		ob.done(p, ErrWrongResponse)
		return true
	}
	if decodeErr != nil {
		// The header decoded, so its status is the answer; a body we
		// cannot read (clients send odd deliver_sm_resp bodies) must not
		// turn an accepted receipt into a retry.
		s.log().Debug("smpp.response.body_invalid", "session", s.id, "command", p.Command.String(), "error", decodeErr.Error())
	}
	ob.done(p, nil)
	return true
}

// answers reports whether p answers a request of command cmd: its own
// response, or a generic_nack with an error status (the request was not
// understood). A response to another command, or a generic_nack saying
// ESME_ROK, does not say the client took the request.
func answers(p pdu.PDU, cmd pdu.CommandID) bool {
	if p.Command == pdu.CmdGenericNack {
		return p.Status != pdu.StatusOK
	}
	return p.Command == cmd.Response()
}

// expirePending fails requests whose response is overdue.
func (s *Session) expirePending(now time.Time) {
	var expired []outbound
	s.pmu.Lock()
	for seq, ob := range s.pending {
		if now.After(ob.deadline) {
			expired = append(expired, ob)
			delete(s.pending, seq)
			s.expired.add(seq, ob.receipt, s.srv.opts.Window)
		}
	}
	if len(expired) > 0 {
		s.signalIfNoPending()
	}
	s.pmu.Unlock()
	for _, ob := range expired {
		ob.done(pdu.PDU{}, ErrTimeout)
	}
	// While the reader is paused the client's answers may sit unread:
	// not judged then (a client that does not read is a slow consumer).
	if len(expired) > 0 && s.State().Bound() && !s.readPaused.Load() && !s.answeredSince(expired) && s.selfUnbinding.CompareAndSwap(false, true) {
		// A request went unanswered and nothing sent after it was
		// answered either: a client that keeps the link alive with its
		// own enquire_link but answers nothing would otherwise keep its
		// share of the account's receipts waiting for ever. It is
		// unbound as an operator's unbind would: the requests it sent
		// are answered first (its submits must not be lost to it).
		// Unbinding or closing already: that ends it anyway.
		s.log().Info("smpp.session.unanswered", "session", s.id, "remote", s.remote.String(),
			"system_id", s.SystemID(), "expired", len(expired))
		s.srv.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.srv.opts.ResponseTimeout)
			defer cancel()
			s.unbindAndClose(ctx, CloseUnanswered)
		})
	}
}

// answeredSince reports whether the client answered any request of ours
// after the first of expired was sent: a client that answers is alive,
// even if it dropped these. When receipts expired, only answers to
// receipts count: a client that answers the gateway's enquire_link but
// no deliver_sm would otherwise hold its share of the account's receipts
// for ever.
func (s *Session) answeredSince(expired []outbound) bool {
	first := expired[0].sent
	receipts := false
	for _, ob := range expired {
		if ob.sent.Before(first) {
			first = ob.sent
		}
		receipts = receipts || ob.receipt
	}
	last := s.lastAnswer.Load()
	if receipts {
		last = s.lastReceiptAnswer.Load()
	}
	return last != 0 && time.Duration(last-1) >= s.sinceOpened(first)
}

// expiredRing remembers the sequence numbers of the last requests of ours
// that timed out, so that their late answers still show the client alive
// (and are not counted as idle PDUs) while a response to a number we never
// sent does not. It holds as many as the session can have outstanding (its
// window, at least minExpiredRing, at most maxExpiredRing): a receiver
// whose whole window timed out and then answered every one late is
// answering, not flooding. Allocated at the first expiry: a session whose
// client answers in time holds nothing.
type expiredRing struct {
	seqs  []uint32
	index map[uint32]bool // sequence number → a receipt's
	n     int             // entries written, ever
}

// Bounds of expiredRing's size, whatever the window.
const (
	minExpiredRing = 64
	maxExpiredRing = 8192
)

func (r *expiredRing) add(seq uint32, receipt bool, window int) {
	if r.seqs == nil {
		size := min(max(window, minExpiredRing), maxExpiredRing)
		r.seqs = make([]uint32, size)
		r.index = make(map[uint32]bool, size)
	}
	i := r.n % len(r.seqs)
	if r.n >= len(r.seqs) {
		delete(r.index, r.seqs[i])
	}
	r.seqs[i] = seq
	r.index[seq] = receipt
	r.n++
}

// take reports whether seq timed out lately, and whether it was a
// receipt, and forgets it: one late answer each. A client replaying the
// answer to one old request would otherwise count as answering for ever
// (never unbound as unanswered) and never spend its idle-PDU budget.
func (r *expiredRing) take(seq uint32) (found, receipt bool) {
	receipt, found = r.index[seq]
	if found {
		delete(r.index, seq) // its slot in seqs is overwritten in turn; add tolerates the missing key
	}
	return found, receipt
}

// signalIfNoPending wakes a waitNoPending; s.pmu is held.
func (s *Session) signalIfNoPending() {
	if len(s.pending) == 0 {
		select {
		case s.pendingEmpty <- struct{}{}:
		default:
		}
	}
}

// waitNoPending waits until every request we sent is answered or has
// timed out, the timer fires, ctx ends (a shutdown's deadline) or the
// session closes.
func (s *Session) waitNoPending(ctx context.Context, t Timer) {
	for {
		s.pmu.Lock()
		n := len(s.pending)
		s.pmu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-s.pendingEmpty:
		case <-t.C():
			return
		case <-ctx.Done():
			return
		case <-s.done:
			return
		}
	}
}

// forPeer is body as this peer may receive it: without TLVs for a v3.3
// peer (SMPP v3.4 section 2.2: an SMSC sends no optional parameters to
// an ESME bound with an interface_version below 0x34).
func (s *Session) forPeer(body pdu.Body) pdu.Body {
	if s.legacy.Load() {
		return pdu.WithoutTLVs(body)
	}
	return body
}

// failPending fails every outstanding request when the session closes.
func (s *Session) failPending() {
	s.pmu.Lock()
	pending := s.pending
	s.pending = map[uint32]outbound{}
	s.pmu.Unlock()
	for _, ob := range pending {
		ob.done(pdu.PDU{}, ErrSessionClosed)
	}
}

// close ends the session at once. The first reason wins; it reports
// whether this call was the one that closed it.
func (s *Session) close(reason CloseReason) (closedNow bool) {
	s.closeOnce.Do(func() {
		closedNow = true
		if reason == ClosePeer {
			if s.clientUnbound.Load() {
				reason = CloseUnbind // the client closed after its unbind, as it should
			} else if r := CloseReason(s.unbindReason.Load()); r != CloseNone {
				reason = r // the client closed after answering ours
			}
		}
		s.reason.Store(int32(reason))
		prev := State(s.state.Swap(int32(StateClosed)))
		close(s.done)
		s.releaseOutput()
		// Counted and its slots given back before the socket closes: a
		// client that sees the close and connects again at once finds its
		// place free, and the metrics already show why it was closed.
		s.srv.sessionClosed(s, prev)
		_ = s.conn.Close()
		s.failPending()
	})
	return closedNow
}
