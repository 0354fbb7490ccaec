package dlr

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// expireBatch and expireRounds bound the work of one sweep.
const (
	expireBatch  = 1000
	expireRounds = 10
)

// loop runs steps until ctx is done or stop is closed; when draining, also
// until nothing is in flight and nothing of a bound account falls due
// before horizon.
func (d *Dispatcher) loop(ctx context.Context, stop <-chan struct{}, horizon time.Time, drain bool) {
	if !drain {
		select {
		case <-stop:
			return
		default:
		}
	}
	var syncs []chan struct{}
	nextSweep := d.o.Clock.Now()
	for {
		now := d.o.Clock.Now()
		if !now.Before(nextSweep) {
			d.sweep(ctx, now)
			nextSweep = now.Add(d.o.SweepInterval)
		}
		nextDue, busy := d.step(ctx, now)
		next := now.Add(d.o.PollInterval)
		if !nextDue.IsZero() && nextDue.Before(next) {
			next = nextDue
		}
		if nextSweep.Before(next) {
			next = nextSweep
		}
		d.mu.Lock()
		idle := !busy && len(d.results) == 0 && d.acksIdle()
		inflight := len(d.inflight)
		d.nextWake = next
		d.mu.Unlock()
		if idle {
			for _, c := range syncs {
				close(c)
			}
			syncs = nil
		}
		if drain && idle && inflight == 0 && (nextDue.IsZero() || nextDue.After(horizon)) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if busy {
			continue
		}
		t := d.o.Clock.TimerAt(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-stop:
			t.Stop()
			return
		case c := <-d.syncReq:
			syncs = append(syncs, c)
		case <-d.wake:
		case <-t.C():
		}
		t.Stop()
	}
}

// step handles the answers received so far, then claims and sends due
// receipts of the accounts with receivers, one batch each. It returns the
// earliest known due time of those accounts (zero: none) and whether a
// batch came back full, so that another step should follow at once.
func (d *Dispatcher) step(ctx context.Context, now time.Time) (nextDue time.Time, busy bool) {
	d.handleResults(ctx, now)

	d.mu.Lock()
	accounts := make([]string, 0, len(d.receivers))
	for sys := range d.receivers {
		if until, ok := d.blocked[sys]; ok {
			if now.Before(until) {
				continue
			}
			delete(d.blocked, sys)
		}
		accounts = append(accounts, sys)
	}
	room := d.o.MaxInFlight - len(d.inflight)
	d.mu.Unlock()

	for _, sys := range accounts {
		if room <= 0 {
			return nextDue, false // an answer will wake the loop
		}
		n := min(room, d.o.BatchSize)
		if cs, ok := d.o.Sender.(CapacitySender); ok {
			if n = min(n, cs.Capacity(sys)); n <= 0 {
				continue // an answer from this account's receivers wakes the loop
			}
		}
		rs, due, ok, err := d.claim(ctx, sys, now, n)
		if err != nil {
			d.claimLog.Failed(ctx, sys, err, slog.String("system_id", sys))
			continue
		}
		d.claimLog.Succeeded(ctx, sys, slog.String("system_id", sys))
		room -= d.sendAll(ctx, sys, rs, now)
		if len(rs) == n {
			busy = true
			continue
		}
		if ok && (nextDue.IsZero() || due.Before(nextDue)) {
			nextDue = due
		}
	}
	return nextDue, busy
}

// claim claims up to n receipts of sys and returns the account's next due
// time: from the claim itself when the queue can tell (one round trip).
func (d *Dispatcher) claim(ctx context.Context, sys string, now time.Time, n int) ([]Receipt, time.Time, bool, error) {
	opCtx, cancel := d.opCtx(ctx)
	defer cancel()
	if nc, ok := d.q.(NextClaimer); ok {
		return nc.ClaimNext(opCtx, sys, now, d.o.Lease, n)
	}
	rs, err := d.q.Claim(opCtx, sys, now, d.o.Lease, n)
	if err != nil || len(rs) == n {
		return rs, time.Time{}, false, err
	}
	due, ok, err := d.q.NextDue(opCtx, sys)
	if err != nil {
		return rs, time.Time{}, false, nil // the poll interval bounds the wait
	}
	return rs, due, ok, nil
}

// sendAll hands claimed receipts to the sender and returns how many went
// out. What the sender cannot take (no receiver, full windows) is put back.
func (d *Dispatcher) sendAll(ctx context.Context, sys string, rs []Receipt, now time.Time) int {
	todo := rs[:0]
	for _, r := range rs {
		if !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt) {
			d.expired(ctx, now, r)
			continue
		}
		todo = append(todo, r)
	}
	// One lock for the batch: a receipt re-claimed after its lease while
	// still awaiting an answer is skipped (and not put back).
	d.mu.Lock()
	fresh := todo[:0]
	for _, r := range todo {
		if _, dup := d.inflight[r.MessageID]; !dup {
			d.inflight[r.MessageID] = struct{}{}
			fresh = append(fresh, r)
		}
	}
	d.mu.Unlock()
	sent := 0
	for i := range fresh {
		r := &fresh[i] // stable: the claimed batch is not touched again
		d.smBuf = r.fillDeliverSM(&d.sm, d.smBuf, now)
		err := d.o.Sender.Deliver(sys, &d.sm, d.doneFunc(r))
		if err == nil {
			sent++
			continue
		}
		if errors.Is(err, ErrNoReceiver) || errors.Is(err, ErrBusy) {
			d.putBack(ctx, sys, fresh[i:], now, err)
			break
		}
		d.mu.Lock()
		delete(d.inflight, r.MessageID)
		d.mu.Unlock()
		d.failed(ctx, now, *r, err)
	}
	d.m.sentN(sent)
	return sent
}

// putBack returns receipts the sender could not take right now, unchanged.
// After ErrNoReceiver the account is left alone until ReceiversChanged or
// the next sweep; after ErrBusy an answer wakes the loop.
func (d *Dispatcher) putBack(ctx context.Context, sys string, rs []Receipt, now time.Time, cause error) {
	d.mu.Lock()
	for _, r := range rs {
		delete(d.inflight, r.MessageID)
	}
	if errors.Is(cause, ErrNoReceiver) {
		d.blocked[sys] = now.Add(d.o.SweepInterval)
	}
	d.mu.Unlock()
	for _, r := range rs {
		d.retry(ctx, r, now) // un-lease, attempts unchanged
	}
	d.o.Logger.Debug("dlr.put_back", "system_id", sys, "receipts", len(rs), "cause", cause.Error())
}

// doneFunc records the answer for r; it holds a pointer into the claimed
// batch rather than a copy of the receipt, so the closure stays small.
func (d *Dispatcher) doneFunc(r *Receipt) func(pdu.PDU, error) {
	return func(resp pdu.PDU, err error) {
		d.mu.Lock()
		d.results = append(d.results, result{r: *r, status: resp.Status, err: err})
		d.mu.Unlock()
		d.poke()
	}
}

// handleResults applies the answers collected by doneFunc.
func (d *Dispatcher) handleResults(ctx context.Context, now time.Time) {
	d.mu.Lock()
	res := d.results
	if len(res) == 0 {
		d.mu.Unlock()
		return
	}
	// The two buffers take turns, so the results slice does not grow anew
	// every step; res and the new d.results never share an array.
	d.results = d.spareResults[:0]
	for _, x := range res {
		delete(d.inflight, x.r.MessageID)
	}
	d.mu.Unlock()
	delivered := d.spareDelivered[:0]
	defer func() { clear(delivered); d.spareDelivered = delivered[:0] }()
	for _, x := range res {
		switch {
		case x.err == nil && x.status == pdu.StatusOK:
			delivered = append(delivered, x.r)
			if d.o.Logger.Enabled(ctx, slog.LevelDebug) {
				d.o.Logger.Debug("dlr.delivered", "message_id", x.r.MessageID, "system_id", x.r.SystemID, "attempts", x.r.Attempts+1)
			}
			if !x.r.SubmittedAt.IsZero() {
				d.m.delivered(now.Sub(x.r.SubmittedAt).Seconds())
			}
		case x.err == nil && (x.status == pdu.StatusXPAppn || x.status == pdu.StatusXRAppn):
			d.o.Logger.Warn("dlr.dropped", "message_id", x.r.MessageID, "system_id", x.r.SystemID,
				"status", x.status.String(), "attempts", x.r.Attempts+1)
			d.m.droppedOne(dropLabel(x.status))
			d.ack(ctx, Outcome{State: pdu.StateUndeliverable, At: now}, x.r)
		default:
			err := x.err
			if err == nil {
				err = x.status
			}
			d.failed(ctx, now, x.r, err)
		}
	}
	if len(delivered) > 0 {
		d.ack(ctx, Outcome{State: pdu.StateDelivered, At: now}, delivered...)
	}
	clear(res) // drop the receipts' strings before the slice is reused
	d.spareResults = res[:0]
}

// failed schedules another attempt with backoff.
func (d *Dispatcher) failed(ctx context.Context, now time.Time, r Receipt, cause error) {
	r.Attempts++
	wait := d.o.backoff(r.Attempts)
	d.o.Logger.Info("dlr.retry", "message_id", r.MessageID, "system_id", r.SystemID,
		"attempts", r.Attempts, "wait", wait.String(), "err", cause.Error())
	d.m.retriedOne()
	d.retry(ctx, r, now.Add(wait))
}

func (d *Dispatcher) retry(ctx context.Context, r Receipt, at time.Time) {
	opCtx, cancel := d.opCtx(ctx)
	defer cancel()
	if err := d.q.Retry(opCtx, r, at); err != nil {
		// The lease runs out and the receipt is claimed again then.
		d.o.Logger.Warn("dlr.retry_not_stored", "message_id", r.MessageID, "err", err)
	}
}

// ack hands the receipts to the acknowledging goroutine, so that the loop
// claims the next batch while the queue removes this one (two round trips
// overlap). A failed Ack lets the lease run out and the receipts are sent
// again: at least once.
func (d *Dispatcher) ack(_ context.Context, o Outcome, rs ...Receipt) {
	for _, r := range rs {
		d.counts.add(r.SystemID, -1)
	}
	cp := append([]Receipt(nil), rs...) // the caller reuses rs
	a := &d.acks
	a.mu.Lock()
	a.pending = append(a.pending, ackReq{o: o, rs: cp})
	start := !a.running
	a.running = true
	a.mu.Unlock()
	if start {
		go d.ackAll()
	}
}

// acker queues acknowledgements; one goroutine runs while any wait.
type acker struct {
	mu      sync.Mutex
	pending []ackReq
	running bool
}

type ackReq struct {
	o  Outcome
	rs []Receipt
}

func (d *Dispatcher) ackAll() {
	a := &d.acks
	for {
		a.mu.Lock()
		reqs := a.pending
		a.pending = nil
		if len(reqs) == 0 {
			a.running = false
			a.mu.Unlock()
			d.poke() // the loop may be waiting for the acknowledgements (Drain, tests)
			return
		}
		a.mu.Unlock()
		for _, r := range reqs {
			opCtx, cancel := d.opCtx(context.Background())
			if err := d.q.Ack(opCtx, r.o, r.rs...); err != nil {
				d.o.Logger.Warn("dlr.ack_failed", "receipts", len(r.rs), "err", err)
			}
			cancel()
		}
	}
}

// acksIdle reports whether no acknowledgement is waiting or running.
func (d *Dispatcher) acksIdle() bool {
	d.acks.mu.Lock()
	defer d.acks.mu.Unlock()
	return !d.acks.running
}

func (d *Dispatcher) expired(ctx context.Context, now time.Time, r Receipt) {
	d.logExpired(r)
	d.m.expiredN(1)
	d.ack(ctx, Outcome{State: pdu.StateExpired, At: now}, r)
}

func (d *Dispatcher) logExpired(r Receipt) {
	d.o.Logger.Warn("dlr.expired", "message_id", r.MessageID, "system_id", r.SystemID,
		"attempts", r.Attempts, "submitted_at", r.SubmittedAt)
}

// sweep refreshes the per-account pending counts and expires receipts of
// all accounts. (An outage buffer writes itself back in the background,
// never in this loop.)
func (d *Dispatcher) sweep(ctx context.Context, now time.Time) {
	if m, ok := d.q.(Maintainer); ok {
		opCtx, cancel := d.opCtx(ctx)
		if err := m.Maintain(opCtx); err != nil {
			d.maintLog.Failed(ctx, "", err)
		} else {
			d.maintLog.Succeeded(ctx, "")
		}
		cancel()
	}
	opCtx, cancel := d.opCtx(ctx)
	if err := d.counts.refresh(opCtx, d.q); err != nil {
		d.countLog.Failed(ctx, "", err)
	}
	cancel()
	for range expireRounds {
		opCtx, cancel := d.opCtx(ctx)
		rs, err := d.q.Expire(opCtx, now, expireBatch)
		cancel()
		if err != nil {
			d.sweepLog.Failed(ctx, "", err)
			break
		}
		d.sweepLog.Succeeded(ctx, "")
		for _, r := range rs {
			d.logExpired(r)
			d.counts.add(r.SystemID, -1)
		}
		d.m.expiredN(len(rs))
		if len(rs) < expireBatch {
			break
		}
	}
}
