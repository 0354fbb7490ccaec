package smpp

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// readLoop is the session's only reader.
func (s *Session) readLoop() {
	defer s.recoverPanic()
	if b, ok := s.srv.opts.Handler.(ReadBatcher); ok {
		s.batch = b.NewReadBatch(s)
		defer s.endRead() // runs before recoverPanic: a panic's batch too
	}
	in := &stampedReader{conn: s.conn, clock: s.srv.opts.Clock, s: s}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), int(s.srv.opts.MaxPDULength)+1)
	sc.Split(pdu.SplitFunc(s.srv.opts.MaxPDULength))
	for sc.Scan() {
		// The scanner reads only when no whole frame is buffered, so the
		// last read is the one that completed this frame.
		if !s.handleFrame(sc.Bytes(), in.at) || !s.waitOutputRoom() {
			return
		}
	}
	s.readEnded(sc.Err())
}

// stampedReader reads the connection for the session's scanner and takes
// the clock's reading once per read that returns data: every frame that
// read completes was received at that instant. Under load one read brings
// tens of frames, and a clock read costs as much as a good part of a
// cached decision.
//
// The scanner reads only when no whole frame is left in its buffer, so a
// call of Read is also where the frames of the last read have all been
// handled: the handler's read batch ends there, before the read may wait.
type stampedReader struct {
	conn  net.Conn
	clock Clock
	at    time.Time // the reading of the last read that returned data
	s     *Session  // whose read batch ends before each read
}

func (r *stampedReader) Read(p []byte) (int, error) {
	r.s.endRead()
	n, err := r.conn.Read(p)
	if n > 0 {
		r.at = r.clock.Now()
	}
	return n, err
}

func (s *Session) readEnded(err error) {
	var fe *pdu.FrameError
	switch {
	case errors.As(err, &fe):
		// DEBUG: one line per connection a client can open; the close is
		// logged with its reason (bad_frame).
		s.log().Debug("smpp.frame.invalid_length", "session", s.id, "remote", s.remote.String(), "command_length", fe.Length)
		s.writeHeader(pdu.CmdGenericNack, pdu.StatusInvCmdLen, fe.Sequence)
		s.closeAfterFlush(CloseBadFrame)
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		s.answerThenClose()
	case errors.Is(err, net.ErrClosed):
		s.close(CloseShutdown) // closed by us; the first reason already won
	case errors.Is(err, syscall.ECONNRESET):
		// The client closed with data unread (its kernel resets the
		// connection): it closed, nothing failed here.
		s.close(ClosePeer)
	default:
		s.close(CloseReadError)
	}
}

// answerThenClose ends a session whose client stopped sending (EOF). The
// client may have closed only its sending side (a half-close) and still
// read: the requests it sent are answered first, within the response
// timeout, as after its unbind, and no receipt is routed here meanwhile;
// what is queued is written before the close (bounded by the write
// deadline, SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS). A client that closed
// both sides does not read them; nothing waits longer than the requests
// take.
func (s *Session) answerThenClose() {
	if s.clientUnbound.Load() {
		return // handleUnbind answers the unbind and closes (unbind)
	}
	if s.inflight.Load() == 0 {
		// The answers the reader wrote itself (enquire_link_resp, a
		// cached submit's) may still be queued: written first.
		s.closeAfterFlush(ClosePeer)
		return
	}
	s.beginUnbinding()
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.opts.ResponseTimeout)
	defer cancel()
	if !s.waitIdle(ctx) {
		s.close(ClosePeer)
		return
	}
	s.closeAfterFlush(ClosePeer)
}

// recoverPanic contains a panic to its session.
func (s *Session) recoverPanic() {
	if v := recover(); v != nil {
		s.srv.metrics.panics.Inc()
		s.log().Error("smpp.session.panic", "session", s.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		s.close(ClosePanic)
	}
}

// handleFrame answers or dispatches one PDU, received at arrived. It
// returns false when the session stops reading.
func (s *Session) handleFrame(frame []byte, arrived time.Time) bool {
	s.touch(arrived)
	sr, p, err := s.decode(frame)
	if p.Command.IsResponse() {
		if errors.Is(err, pdu.ErrUnknownCommand) {
			// A command_id SMPP v3.4 does not define, with the
			// response bit set: not an answer to anything we sent.
			// Answered like an unknown request, and counted like one
			// before a bind.
			s.answerDecodeError(p, err)
			if s.State() == StateOpen {
				s.countPrebind()
			} else if !s.spendIdle(arrived) {
				return false
			}
			return !s.stopReading
		}
		if !s.handleResponse(p, err) && !s.spendIdle(arrived) {
			return false
		}
		return true
	}
	isBind := modeOf(p.Command) != 0
	if isBind {
		// Marked before the state is read: an unbindAndClose that ends
		// the session meanwhile either finds the mark and waits for this
		// bind's answer, or this reader finds the session unbinding.
		s.binding.Store(true)
		defer s.endBinding()
	}
	st := s.State()
	idle := s.handleRequest(st, p, err, arrived, sr)
	if st == StateOpen && !isBind {
		s.countPrebind()
	}
	if idle && st != StateOpen && !s.spendIdle(arrived) {
		return false
	}
	return !s.stopReading
}

// submitRequest is a submit_sm's Request and its body in one allocation:
// submit_sm is nearly all a busy session reads.
type submitRequest struct {
	Request
	body pdu.SubmitSM
}

// decode decodes frame. A submit_sm is decoded into the submitRequest
// returned, which dispatches it; any other PDU gets a Request only if it
// is dispatched (sr is nil).
func (s *Session) decode(frame []byte) (sr *submitRequest, p pdu.PDU, err error) {
	// The splitter yields frames of 16 octets or more.
	if pdu.CommandID(binary.BigEndian.Uint32(frame[4:])) != pdu.CmdSubmitSM {
		p, err = pdu.Decode(frame)
		return nil, p, err
	}
	sr = new(submitRequest)
	p, err = pdu.DecodeInto(frame, &sr.body)
	return sr, p, err
}

// handleRequest answers or dispatches request p, read at arrived; sr is
// the submitRequest a submit_sm was decoded into. It reports whether p
// did no work for the client (MaxIdlePDUsPerSecond): enquire_link, or a
// request refused for what it is (its state, its body, its command id).
//
// The state is judged before the body: a request the session may not send
// now (a submit before bind, a bind once bound) gets ESME_RINVBNDSTS or
// ESME_RALYBND whatever its body holds, as the header alone decides it.
func (s *Session) handleRequest(st State, p pdu.PDU, err error, arrived time.Time, sr *submitRequest) (idle bool) {
	if errors.Is(err, pdu.ErrUnknownCommand) {
		s.answerDecodeError(p, err)
		return true
	}
	if !allowed(st, p.Command) {
		s.answerWrongState(st, p)
		return true
	}
	if err != nil && modeOf(p.Command) != 0 {
		s.bindMalformed(p, err)
		return false // counted as a bind
	}
	if err != nil {
		s.answerDecodeError(p, err)
		return true
	}
	switch p.Command {
	case pdu.CmdBindTransmitter, pdu.CmdBindReceiver, pdu.CmdBindTransceiver:
		s.handleBind(p)
	case pdu.CmdEnquireLink:
		s.writeHeader(pdu.CmdEnquireLinkResp, pdu.StatusOK, p.Sequence)
		return true
	case pdu.CmdUnbind:
		s.handleUnbind(p)
	default:
		// A refusal of dispatch (a full window, the account's
		// throughput, a drain) is the gateway's own back-pressure, not
		// idle: a client whose window is a little larger than the
		// gateway's gets one per excess request and round trip, and
		// pausing it would cut its throughput.
		s.dispatch(p, arrived, sr)
	}
	return false
}

// countPrebind counts a request (a failed bind included) answered before
// any bind succeeded; past MaxPrebindRequests the session is closed once
// the answers are written. Each of them was answered: a client that sends
// requests before binding is told why, but cannot keep a connection busy.
func (s *Session) countPrebind() {
	s.prebind++
	if s.prebind < s.srv.opts.MaxPrebindRequests || s.State() != StateOpen {
		return
	}
	s.log().Info("smpp.session.prebind_limit", "session", s.id, "remote", s.remote.String(), "requests", s.prebind)
	s.stopReading = true
	s.closeAfterFlush(ClosePrebindRequests)
}

func (s *Session) answerDecodeError(p pdu.PDU, err error) {
	status := pdu.StatusOf(err)
	resp := p.Command.Response()
	if errors.Is(err, pdu.ErrUnknownCommand) {
		resp, status = pdu.CmdGenericNack, pdu.StatusInvCmdID
	}
	s.log().Debug("smpp.pdu.invalid", "session", s.id, "command", p.Command.String(), "status", status.String(), "error", err.Error())
	s.writeHeader(resp, status, p.Sequence)
}

func (s *Session) answerWrongState(st State, p pdu.PDU) {
	status := pdu.StatusInvBndSts
	switch {
	case modeOf(p.Command) != 0 && st != StateOpen:
		status = pdu.StatusAlyBnd
		s.srv.metrics.binds.WithLabelValues(status.String()).Inc()
	case p.Command == pdu.CmdOutbind || p.Command == pdu.CmdAlertNotification:
		// An ESME never sends these to an SMSC.
		status = pdu.StatusInvCmdID
	}
	s.writeHeader(p.Command.Response(), status, p.Sequence)
}

// dispatch applies the window and the account's throughput, then hands
// the request to the handler; it reports whether it did.
func (s *Session) dispatch(p pdu.PDU, arrived time.Time, sr *submitRequest) (served bool) {
	if int(s.inflight.Load()) >= s.srv.opts.Window {
		s.srv.metrics.throttled.WithLabelValues("window").Inc()
		s.submitAnswered(p.Command, pdu.StatusThrottled)
		s.writeHeader(p.Command.Response(), pdu.StatusThrottled, p.Sequence)
		return false
	}
	switch p.Command {
	case pdu.CmdSubmitSM, pdu.CmdDataSM, pdu.CmdSubmitMulti:
		if s.srv.draining.Load() {
			s.srv.metrics.throttled.WithLabelValues("shutdown").Inc()
			s.submitAnswered(p.Command, pdu.StatusThrottled)
			s.writeHeader(p.Command.Response(), pdu.StatusThrottled, p.Sequence)
			return false
		}
		if !s.Account().Allow(messagesIn(p)) {
			s.srv.metrics.throttled.WithLabelValues("throughput").Inc()
			s.submitAnswered(p.Command, pdu.StatusThrottled)
			s.writeHeader(p.Command.Response(), pdu.StatusThrottled, p.Sequence)
			return false
		}
	}
	s.inflight.Add(1)
	s.serve(s.newRequest(p, arrived, sr))
	return true
}

// newRequest returns the Request of p: sr's when p was decoded into it.
func (s *Session) newRequest(p pdu.PDU, arrived time.Time, sr *submitRequest) *Request {
	if sr == nil {
		return &Request{Session: s, PDU: p, Received: arrived}
	}
	sr.Session, sr.PDU, sr.Received = s, p, arrived
	return &sr.Request
}

// messagesIn is how many messages a submit stands for in the account's
// throughput: one, or a submit_multi's destinations (distribution lists
// are refused without a lookup and do not count).
func messagesIn(p pdu.PDU) int {
	m, ok := p.Body.(*pdu.SubmitMulti)
	if !ok {
		return 1
	}
	n := 0
	for _, d := range m.Dests {
		if !d.IsDistList {
			n++
		}
	}
	return max(n, 1)
}

// endRead tells the handler's read batch that the requests served since
// the last call are all there is before the reader waits.
func (s *Session) endRead() {
	if !s.batchUsed {
		return
	}
	s.batchUsed = false
	s.batch.EndRead()
}

// serve calls the handler; a panic in it answers ESME_RSYSERR and keeps
// the session up.
func (s *Session) serve(req *Request) {
	s.batchUsed = s.batch != nil
	defer func() {
		if v := recover(); v != nil {
			s.srv.metrics.panics.Inc()
			s.log().Error("smpp.handler.panic", "session", s.id, "command", req.PDU.Command.String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			req.Respond(pdu.StatusSysErr, nil)
		}
	}()
	s.srv.opts.Handler.ServeSMPP(req)
}

// handleBind checks a bind. Repeated failures from the address (or the
// address and system_id) delay the check itself, not only the answer, so
// a guesser gets one try per delay; the delay stays below the bind timeout
// and the session-init timer waits for the answer.
func (s *Session) handleBind(p pdu.PDU) {
	b := p.Body.(*pdu.Bind)
	mode := modeOf(p.Command)
	status := pdu.StatusBindFail
	var acc *AccountState
	left := s.srv.opts.BindTimeout - s.sinceOpened(s.srv.opts.Clock.Now())
	delay := s.srv.guard.delay(s.remote, b.SystemID, left)
	if delay > 0 && delay >= left {
		// Binds pipelined on one connection, or waiting their turn
		// behind other connections' checks of the same account, would
		// wait past the bind timeout while the session-init timer waits
		// for the answer. Answer now, unchecked, and close. It counts
		// as a failure: a flood of them gets its address blocked.
		s.logBindFailed(b.SystemID, mode, status, "not checked: its turn would come after the bind timeout")
		s.countFailedBind(b.SystemID)
		s.srv.metrics.binds.WithLabelValues(status.String()).Inc()
		s.writeHeader(p.Command.Response(), status, p.Sequence)
		s.stopReading = true
		s.closeAfterFlush(CloseBindFailed)
		return
	}
	// The address may become blocked while this bind waits its delay.
	waited := s.waitBindDelay(delay)
	switch waited {
	case bindDelayClosed:
		return // nothing can be answered; the password was never checked
	case bindDelayUnbinding:
		// A shutdown ended the wait: refused unchecked, not counted
		// against the address.
		s.srv.metrics.binds.WithLabelValues(status.String()).Inc()
		s.writeHeader(p.Command.Response(), status, p.Sequence)
		return
	}
	overLimit := false // the password was right; the account's binds are all taken
	if !s.srv.guard.blocked(s.remote) {
		ctx, cancel := context.WithTimeout(context.Background(), s.srv.opts.ResponseTimeout)
		acc, status = s.srv.opts.Auth.Authenticate(ctx, BindRequest{
			Mode: mode, SystemID: b.SystemID, Password: b.Password, SystemType: b.SystemType, Remote: s.remote,
		})
		if status == pdu.StatusOK {
			// Set before the bind registers, so the first receipt routed
			// here is already encoded for this peer's version.
			s.legacy.Store(b.InterfaceVersion < pdu.InterfaceVersion34)
			s.stats.ifVersion.Store(uint32(b.InterfaceVersion))
			if !s.srv.admitBind(ctx, s, acc, mode) {
				status = pdu.StatusBindFail
				overLimit = true
			}
		}
		cancel()
	}
	s.srv.metrics.binds.WithLabelValues(status.String()).Inc()
	if status != pdu.StatusOK && s.State() != StateOpen {
		// The session is being ended (a shutdown) and the bind could not
		// register: refused, but no failure of this address's.
		s.writeHeader(p.Command.Response(), status, p.Sequence)
		return
	}
	if overLimit {
		// Not a failed bind of the address's: no password was guessed.
		// Counted, it got a client reconnecting over its max_binds (or
		// clients behind one NAT) slowed down and then every account
		// on the address refused.
		detail := "max_binds reached"
		if acc != nil && acc.MaxBinds() <= 0 {
			detail = "SMPP_MAX_BINDS_PER_ACCOUNT reached (the account sets no max_binds)"
		}
		if s.evicted.Load() {
			detail = "the connection was closed to make room for another (unbound_evicted)"
		}
		s.logBindFailed(b.SystemID, mode, status, detail)
		s.answerFailedBind(p, status)
		return
	}
	if status != pdu.StatusOK {
		s.bindFailed(p, b, mode, status)
		return
	}
	s.srv.guard.succeeded(s.remote, b.SystemID)
	resp := &pdu.BindResp{Command: p.Command.Response(), SystemID: s.srv.opts.SystemID}
	if !s.legacy.Load() {
		resp.TLVs = pdu.TLVs("").WithUint8(pdu.TagSCInterfaceVersion, pdu.InterfaceVersion34)
	}
	s.writePDU(pdu.PDU{Header: pdu.Header{Command: p.Command.Response(), Sequence: p.Sequence}, Body: resp})
	s.log().Info("smpp.bind.succeeded", "session", s.id, "remote", s.remote.String(), "system_id", b.SystemID,
		"mode", mode.String(), "tls", s.tlsConn, "interface_version", b.InterfaceVersion)
}

// bindDelayEnd is how a bind's delay ended.
type bindDelayEnd int

const (
	bindDelayWaited    bindDelayEnd = iota // the delay passed: check the password
	bindDelayUnbinding                     // the session is being ended (shutdown): refuse unchecked
	bindDelayClosed                        // the connection is gone
)

// waitBindDelay waits d on the session's clock, unless the session is
// ended or closed meanwhile.
func (s *Session) waitBindDelay(d time.Duration) bindDelayEnd {
	if d <= 0 {
		return bindDelayWaited
	}
	s.srv.metrics.bindsDelayed.Inc()
	t := s.srv.opts.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return bindDelayWaited
	case <-s.unbinding:
		return bindDelayUnbinding
	case <-s.done:
		return bindDelayClosed
	}
}

// endBinding marks a bind's check over and wakes an unbindAndClose
// waiting to close after its answer.
func (s *Session) endBinding() {
	s.binding.Store(false)
	select {
	case s.bindDone <- struct{}{}:
	default:
	}
}

// waitBindAnswered waits until no bind is being checked, or ctx ends: the
// bind's answer is queued by then.
func (s *Session) waitBindAnswered(ctx context.Context) {
	for s.binding.Load() {
		select {
		case <-s.bindDone:
		case <-ctx.Done():
			return
		}
	}
}

func (s *Session) bindFailed(p pdu.PDU, b *pdu.Bind, mode BindMode, status pdu.Status) {
	s.logBindFailed(b.SystemID, mode, status, "")
	s.countFailedBind(b.SystemID)
	s.answerFailedBind(p, status)
}

// bindMalformed answers a bind whose body does not decode (a field too
// long, bytes after the body…) with the decoder's status. It is a failed
// bind for the log, smpp_binds_total and SMPP_MAX_PREBIND_REQUESTS, so a
// connection cannot send such binds without end; it is not counted
// against the address (SMPP_MAX_FAILED_BINDS): no password was tried.
func (s *Session) bindMalformed(p pdu.PDU, err error) {
	status := pdu.StatusOf(err)
	var systemID string
	if b, ok := p.Body.(*pdu.Bind); ok && b != nil {
		systemID = b.SystemID
	}
	s.srv.metrics.binds.WithLabelValues(status.String()).Inc()
	s.logBindFailed(systemID, modeOf(p.Command), status, err.Error())
	s.answerFailedBind(p, status)
}

// answerFailedBind answers a refused bind and closes the connection once
// SMPP_MAX_PREBIND_REQUESTS requests were answered before any bind.
func (s *Session) answerFailedBind(p pdu.PDU, status pdu.Status) {
	s.writeHeader(p.Command.Response(), status, p.Sequence)
	s.prebind++
	if s.prebind >= s.srv.opts.MaxPrebindRequests {
		s.stopReading = true
		s.closeAfterFlush(CloseBindFailed)
	}
}

// logBindFailed logs a refused bind (smpp.bind.failed) with the status
// answered and, when the password was not what decided it, why.
func (s *Session) logBindFailed(systemID string, mode BindMode, status pdu.Status, detail string) {
	attrs := []any{"session", s.id, "remote", s.remote.String(), "system_id", systemID,
		"mode", mode.String(), "status", status.String()}
	if detail != "" {
		attrs = append(attrs, "detail", detail)
	}
	s.log().Warn("smpp.bind.failed", attrs...)
}

// countFailedBind tells the bind guard of a failed bind for systemID from
// this session's address, and logs the address's block when it starts.
func (s *Session) countFailedBind(systemID string) {
	if s.srv.guard.failed(s.remote, systemID) {
		s.srv.metrics.addressesBlocked.Inc()
		s.log().Warn("smpp.bind.address_blocked", "remote", s.remote.String(),
			"failures", s.srv.opts.MaxFailedBinds, "blocked_seconds", s.srv.opts.FailedBindBlock.Seconds())
	}
}

// handleUnbind leaves the bound state at once and answers the client's
// unbind once its requests in flight are answered. The reader goes on
// reading until the connection closes, so every deliver_sm_resp the client
// sends before it does is honoured; after unbind_resp the session waits
// (at most UnbindTimeout) for the responses to the deliver_sm it sent.
func (s *Session) handleUnbind(p pdu.PDU) {
	s.clientUnbound.Store(true)
	s.beginUnbinding()
	s.srv.wg.Add(1)
	go func() {
		defer s.srv.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), s.srv.opts.ResponseTimeout)
		s.waitIdle(ctx)
		cancel()
		s.writeHeader(pdu.CmdUnbindResp, pdu.StatusOK, p.Sequence)
		t := s.srv.opts.Clock.NewTimer(s.srv.opts.UnbindTimeout)
		s.waitNoPending(context.Background(), t) // bounded by the unbind timeout
		t.Stop()
		s.closeAfterFlush(CloseUnbind)
	}()
}

// beginUnbinding leaves the bound state so no more messages are accepted
// or routed here. It returns the state it left.
func (s *Session) beginUnbinding() State {
	for {
		cur := State(s.state.Load())
		if cur == StateClosed || cur == StateUnbinding {
			return cur
		}
		if s.state.CompareAndSwap(int32(cur), int32(StateUnbinding)) {
			close(s.unbinding) // once: the state leaves Open or bound once
			if cur.Bound() {
				s.srv.unregisterBind(s, cur)
			}
			return cur
		}
	}
}
