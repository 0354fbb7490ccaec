package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// runner is the state of one Run shared by the sessions.
type runner struct {
	cfg     Config
	dest    destinations
	pace    *pacer   // nil: as fast as the window allows
	tracker *tracker // nil: receipts are only counted

	next         atomic.Uint64 // index of the next message
	sent         atomic.Int64
	responses    atomic.Int64
	receipts     atomic.Int64
	inflight     atomic.Int64
	lastResponse atomic.Int64 // unix ns
	lastReceipt  atomic.Int64 // unix ns
}

// pollInterval is how often the drain phases look at the counters; a
// benchmark harness can afford polling and it keeps the hot path free of
// signalling.
const pollInterval = 10 * time.Millisecond

// Run binds, submits until Count or Duration, waits for the outstanding
// responses (and, with WaitReceipts, for the receipts), unbinds and
// returns the report. It returns an error only when the run could not
// start; a run cut short by ctx returns a report marked Interrupted.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, dest: newDestinations(cfg.DestPrefix, cfg.Distinct)}
	if cfg.WaitReceipts {
		r.tracker = newTracker()
	}
	sessions, err := r.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAll(sessions)

	start := time.Now()
	if cfg.Rate > 0 {
		r.pace = newPacer(start, cfg.Rate)
	}
	stopProgress := r.progress(start)

	stop, cancelStop := context.WithCancel(ctx)
	if cfg.Duration > 0 {
		stop, cancelStop = context.WithTimeout(ctx, cfg.Duration)
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Go(func() { r.sendLoop(stop, s) })
	}
	wg.Wait()
	cancelStop()
	sendEnd := time.Now()

	waitUntil(ctx, cfg.ResponseTimeout, func() bool { return r.inflight.Load() <= 0 })
	if r.tracker != nil {
		waitUntil(ctx, cfg.ReceiptTimeout, func() bool { return r.tracker.outstanding() <= 0 })
	}
	stopProgress()
	unbindAll(sessions)
	return r.report(start, sendEnd, sessions, ctx.Err() != nil), nil
}

// dial opens every bind; on any failure it closes what it opened.
func (r *runner) dial(ctx context.Context) ([]*session, error) {
	base := esme.Config{
		Addr: r.cfg.Addr, SystemID: r.cfg.SystemID, Password: r.cfg.Password,
		Bind: pdu.CmdBindTransceiver, OnDeliver: r.onDeliver,
	}
	var sessions []*session
	for i := range r.cfg.Sessions {
		s := &session{slots: make(chan struct{}, r.cfg.Window), byStatus: map[pdu.Status]int64{}}
		cfg := base
		if r.cfg.Separate {
			cfg.Bind = pdu.CmdBindTransmitter
		}
		c, err := esme.Dial(ctx, cfg)
		if err != nil {
			closeAll(sessions)
			return nil, fmt.Errorf("bench: session %d: %w", i+1, err)
		}
		s.c = c
		sessions = append(sessions, s)
		if r.cfg.Separate {
			cfg.Bind = pdu.CmdBindReceiver
			if s.rx, err = esme.Dial(ctx, cfg); err != nil {
				closeAll(sessions)
				return nil, fmt.Errorf("bench: receiver %d: %w", i+1, err)
			}
		}
	}
	return sessions, nil
}

// waitUntil polls done until it holds, timeout passes or ctx ends.
func waitUntil(ctx context.Context, timeout time.Duration, done func() bool) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for !done() && time.Now().Before(deadline) {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// unbindTimeout bounds the polite goodbye; a server that does not answer
// unbind is closed on anyway.
const unbindTimeout = 2 * time.Second

func unbindAll(sessions []*session) {
	ctx, cancel := context.WithTimeout(context.Background(), unbindTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range sessions {
		for _, c := range []*esme.Client{s.c, s.rx} {
			if c != nil {
				wg.Go(func() {
					if err := c.Unbind(ctx); err != nil && !errors.Is(err, esme.ErrClosed) {
						_ = c.Close()
					}
				})
			}
		}
	}
	wg.Wait()
}

func closeAll(sessions []*session) {
	for _, s := range sessions {
		if s.c != nil {
			_ = s.c.Close()
		}
		if s.rx != nil {
			_ = s.rx.Close()
		}
	}
}
