package smpp

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server accepts SMPP connections on any number of listeners and serves
// them until Shutdown.
type Server struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	guard   *bindGuard
	adm     *admission
	nextID  atomic.Uint64

	notifyMu  sync.Mutex // orders OnReceiversChanged calls; taken before mu
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	sessions  map[*Session]struct{}
	accounts  map[string]*accountBinds
	closing   bool
	draining  atomic.Bool    // new messages are refused: the server is stopping
	wg        sync.WaitGroup // session goroutines
	// outOver is what all sessions have waiting to be written beyond
	// OutputFloorBytes each (outbuf.go), bounded by MaxOutputBytesTotal.
	outOver atomic.Int64
}

// accountBinds are the bound sessions of one account.
type accountBinds struct {
	binds     int
	receivers []*Session
	next      uint32 // round-robin cursor over receivers
}

// NewServer checks the options and builds a server.
func NewServer(opts Options) (*Server, error) {
	if opts.Handler == nil {
		return nil, errors.New("smpp: Options.Handler is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("smpp: Options.Auth is required")
	}
	opts.setDefaults()
	srv := &Server{
		opts:      opts,
		log:       opts.Logger,
		metrics:   newMetrics(opts.Registerer),
		guard:     newBindGuard(&opts),
		adm:       newAdmission(opts.MaxConnectionsPerIP, opts.MaxUnboundConnections),
		listeners: make(map[net.Listener]struct{}),
		sessions:  make(map[*Session]struct{}),
		accounts:  make(map[string]*accountBinds),
	}
	srv.registerAccountMetrics(opts.Registerer)
	srv.registerOutputMetrics(opts.Registerer)
	return srv, nil
}

// Serve accepts connections on ln until Shutdown or StopAccepting, then
// returns ErrServerClosed. Wrap ln with tls.NewListener for SMPP over TLS.
func (srv *Server) Serve(ln net.Listener) error {
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	srv.listeners[ln] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, ln)
		srv.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if srv.isClosing() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Running out of file descriptors must not end the listener.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.log.Warn("smpp.accept.failed", "error", err.Error(), "retry_in_ms", backoff.Milliseconds())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		srv.accept(conn)
	}
}

func (srv *Server) isClosing() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

func (srv *Server) accept(conn net.Conn) {
	s := newSession(srv, conn, srv.nextID.Add(1))
	_, s.tlsConn = conn.(*tls.Conn)
	srv.mu.Lock()
	reason, evict := srv.admit(s)
	if reason != CloseNone {
		srv.mu.Unlock()
		srv.refuse(conn, s.remote, reason)
		return
	}
	srv.sessions[s] = struct{}{}
	srv.wg.Add(2)
	srv.mu.Unlock()
	if evict != nil {
		// Not closed under a bind being checked (waiting out the delay
		// after failed binds, or a slow account store): the bind is
		// answered first, its delay cut short, as at a shutdown. Off the
		// accept loop: the answer may take a moment.
		srv.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), srv.opts.ResponseTimeout)
			defer cancel()
			evict.unbindAndClose(ctx, CloseUnboundEvicted)
		})
	}
	srv.metrics.active.Inc()
	srv.log.Info("smpp.connection.opened", "session", s.id, "remote", s.remote.String(), "tls", s.tlsConn)
	go func() { defer srv.wg.Done(); s.readLoop() }()
	go func() { defer srv.wg.Done(); s.writeLoop() }()
}

// bindLimit is the most binds acc may hold on this server: its max_binds,
// else MaxBindsPerAccount (0: none).
func (srv *Server) bindLimit(acc *AccountState) int {
	if n := acc.MaxBinds(); n > 0 {
		return n
	}
	return srv.opts.MaxBindsPerAccount
}

// registerBind records a successful bind; it fails when the account
// already has MaxBinds binds, a reload removed it since its password was
// checked, or the session is no longer open (or being evicted: admit).
func (srv *Server) registerBind(s *Session, acc *AccountState, mode BindMode) bool {
	srv.mu.Lock()
	if acc.Removed() || s.evicted.Load() {
		// Checked under srv.mu: a reload marks the account removed
		// before UnbindAccount looks for its sessions under srv.mu, so
		// a bind either registers before that look (and is unbound by
		// it) or sees the mark here.
		srv.mu.Unlock()
		return false
	}
	ab := srv.accounts[acc.SystemID]
	if ab == nil {
		ab = &accountBinds{}
		srv.accounts[acc.SystemID] = ab
	}
	if maxBinds := srv.bindLimit(acc); maxBinds > 0 && ab.binds >= maxBinds {
		srv.mu.Unlock()
		return false
	}
	s.bind.Store(&binding{account: acc, mode: mode, boundAt: srv.opts.Clock.Now()})
	if !s.state.CompareAndSwap(int32(StateOpen), int32(mode.state())) {
		s.bind.Store(nil)
		srv.mu.Unlock()
		return false
	}
	ab.binds++
	if s.countedUnbound.CompareAndSwap(true, false) {
		srv.adm.bound(s.remote)
	}
	receiver := mode.state().CanReceive()
	if receiver {
		ab.receivers = append(ab.receivers, s)
	}
	srv.mu.Unlock()
	srv.metrics.bound.WithLabelValues(mode.String()).Inc()
	if receiver {
		srv.notifyReceivers(acc.SystemID)
	}
	return true
}

// unregisterBind removes a session that was bound in state prev.
func (srv *Server) unregisterBind(s *Session, prev State) {
	b := s.bind.Load()
	srv.mu.Lock()
	ab := srv.accounts[b.account.SystemID]
	if ab != nil {
		ab.binds--
		if prev.CanReceive() {
			for i, r := range ab.receivers {
				if r == s {
					ab.receivers = append(ab.receivers[:i], ab.receivers[i+1:]...)
					break
				}
			}
		}
		if ab.binds <= 0 {
			delete(srv.accounts, b.account.SystemID)
		}
	}
	srv.mu.Unlock()
	srv.releaseLease(s, b.account.SystemID)
	srv.metrics.bound.WithLabelValues(b.mode.String()).Dec()
	if prev.CanReceive() {
		srv.notifyReceivers(b.account.SystemID)
	}
}

// notifyReceivers tells OnReceiversChanged how many receivers the account
// has now. The count is read and reported under one lock, so
// notifications cannot overtake each other: the last one an account gets
// is always its current count (a stale 0 after a reconnect would stop its
// receipts).
func (srv *Server) notifyReceivers(systemID string) {
	if srv.opts.OnReceiversChanged == nil {
		return
	}
	srv.notifyMu.Lock()
	defer srv.notifyMu.Unlock()
	srv.opts.OnReceiversChanged(systemID, srv.Receivers(systemID))
}

func (srv *Server) sessionClosed(s *Session, prev State) {
	if prev.Bound() {
		srv.unregisterBind(s, prev)
	}
	srv.mu.Lock()
	delete(srv.sessions, s)
	srv.mu.Unlock()
	srv.adm.release(s.remote, s.countedUnbound.Swap(false), s.evicted.Load())
	reason := s.CloseReason()
	srv.metrics.active.Dec()
	srv.metrics.closed.WithLabelValues(reason.String()).Inc()
	srv.log.Info("smpp.connection.closed", "session", s.id, "remote", s.remote.String(),
		"system_id", s.SystemID(), "reason", reason.String(),
		"duration_ms", s.sinceOpened(srv.opts.Clock.Now()).Milliseconds())
}

// NextReceiver returns a receiver or transceiver session of the account,
// round-robin, or nil when none is bound.
func (srv *Server) NextReceiver(systemID string) *Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	ab := srv.accounts[systemID]
	if ab == nil || len(ab.receivers) == 0 {
		return nil
	}
	ab.next++
	return ab.receivers[int(ab.next)%len(ab.receivers)]
}

// Receivers is the number of receiver and transceiver binds of an account.
func (srv *Server) Receivers(systemID string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if ab := srv.accounts[systemID]; ab != nil {
		return len(ab.receivers)
	}
	return 0
}

// ReceiverCapacity is how many more of the server's own requests the
// account's receiver and transceiver sessions can take before their
// windows are full.
func (srv *Server) ReceiverCapacity(systemID string) int {
	srv.mu.Lock()
	var receivers []*Session
	if ab := srv.accounts[systemID]; ab != nil {
		receivers = append(receivers, ab.receivers...)
	}
	srv.mu.Unlock()
	room := 0
	for _, s := range receivers {
		room += s.room()
	}
	return room
}

// Sessions is the number of open connections.
func (srv *Server) Sessions() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions)
}

// StopAccepting closes the listeners and starts refusing new messages
// with ESME_RTHROTTLED, so clients resubmit them elsewhere or later rather
// than get a message id whose receipt may not be sent before the process
// ends. Sessions stay bound (receipts can still be delivered); query_sm,
// cancel_sm and enquire_link are still served. Serve returns
// ErrServerClosed.
func (srv *Server) StopAccepting() {
	srv.draining.Store(true)
	srv.mu.Lock()
	srv.closing = true
	lns := make([]net.Listener, 0, len(srv.listeners))
	for ln := range srv.listeners {
		lns = append(lns, ln)
	}
	srv.mu.Unlock()
	for _, ln := range lns {
		_ = ln.Close()
	}
}

// WaitIdle waits until no session has a request in flight (every request
// read so far is answered) or ctx ends; it reports which.
func (srv *Server) WaitIdle(ctx context.Context) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		busy := false
		srv.mu.Lock()
		for s := range srv.sessions {
			if s.inflight.Load() > 0 {
				busy = true
				break
			}
		}
		srv.mu.Unlock()
		if !busy {
			return true
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return false
		}
	}
}

// Shutdown stops accepting, lets every session answer the requests it has
// read, sends unbind to bound sessions and waits for unbind_resp, then
// closes. When ctx ends first the remaining sessions are closed at once
// and ctx's error is returned.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.StopAccepting()
	srv.mu.Lock()
	sessions := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); s.shutdown(ctx) }()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		srv.mu.Lock()
		for s := range srv.sessions {
			go s.close(CloseShutdown)
		}
		srv.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// shutdown ends one session gracefully within ctx.
func (s *Session) shutdown(ctx context.Context) { s.unbindAndClose(ctx, CloseShutdown) }
