package dlr

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// failedClaimsInRow is how many claims of one step may fail in a row
// before the step sets the accounts left aside unclaimed.
const failedClaimsInRow = 2

// expireBatch and expireRounds bound the work of one sweep.
const (
	expireBatch  = 1000
	expireRounds = 10
)

// loop runs steps until ctx is done or stop is closed; when draining, also
// until nothing is in flight, nothing of a bound account falls due before
// horizon and the first sweep has run (swept closed).
func (s *shard) loop(ctx context.Context, stop <-chan struct{}, horizon time.Time, drain bool, swept <-chan struct{}) {
	d := s.d
	if !drain {
		select {
		case <-stop:
			return
		default:
		}
	}
	var syncs []chan struct{}
	for {
		now := d.o.Clock.Now()
		nextDue, busy := s.step(ctx, now)
		next := now.Add(d.o.PollInterval)
		if !nextDue.IsZero() && nextDue.Before(next) {
			next = nextDue
		}
		s.nextWake.Store(next.UnixNano())
		idle := !busy && s.answersIdle()
		s.mu.Lock()
		held := len(s.held)
		probeDue := s.probeDueLocked()
		// A claim left to finish is work in flight: its result wakes
		// the loop.
		idle = idle && len(s.claiming) == 0
		s.mu.Unlock()
		if idle && !probeDue {
			for _, c := range syncs {
				close(c)
			}
			syncs = nil
		}
		if drain && idle && held == 0 && (nextDue.IsZero() || nextDue.After(horizon)) && closed(swept) {
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
		case c := <-s.syncReq:
			syncs = append(syncs, c)
		case <-s.wake:
		case <-t.C():
		}
		t.Stop()
	}
}

// step claims and sends due receipts of the shard's accounts with
// receivers, one batch each (the answer goroutine settles the answers). It
// returns the earliest known due time of those accounts (zero: none) and
// whether a batch came back full, so that another step should follow at
// once.
func (s *shard) step(ctx context.Context, now time.Time) (nextDue time.Time, busy bool) {
	d := s.d
	// Before settled ids are forgotten: a claim left to finish on its own
	// may have begun before their acks landed, and return them.
	nextDue, busy = s.takeLateClaims(ctx, now)
	s.mu.Lock()
	s.forgetSettledLocked()
	s.reclaimTicketsLocked()
	accounts := s.accounts[:0]
	for sys := range s.receivers {
		if s.suspect[sys] {
			continue // the prober wakes the loop once it answers
		}
		if s.claiming[sys] {
			continue // its claim, left to finish, wakes the loop
		}
		if s.pausedLocked(sys, now) {
			continue // its receivers refuse receipts: the poll interval ends the pause
		}
		if until, ok := s.blocked[sys]; ok {
			if now.Before(until) {
				continue
			}
			delete(s.blocked, sys)
		}
		accounts = append(accounts, sys)
	}
	s.mu.Unlock()
	s.accounts = accounts

	cs, capped := d.o.Sender.(CapacitySender)
	failedInRow, leftInRow := 0, 0
	for i, sys := range accounts {
		if ctx.Err() != nil {
			// Stopping: a claim per account against a Redis that does
			// not answer would each take OpTimeout (claims outlive ctx).
			break
		}
		if failedInRow >= failedClaimsInRow {
			// Claims keep failing (Redis down, or hanging: OpTimeout
			// each): the accounts left are set aside unclaimed, and the
			// prober, asking several at once, brings back those that
			// answer within a round, rather than the loop waiting out
			// each one's timeout in turn.
			s.setAside(sys)
			continue
		}
		n := d.o.BatchSize
		if capped {
			if n = min(n, cs.Capacity(sys)); n <= 0 {
				continue // an answer from this account's receivers wakes the loop
			}
		}
		var full bool
		if n, full = s.reserve(sys, n, now); n <= 0 {
			if full {
				// The accounts not asked yet that hold receipts want
				// places too: the freed ones are shared out with them.
				for _, other := range accounts[i+1:] {
					if d.counts.get(other) > 0 {
						d.inflight.want(other, now)
					}
				}
				return nextDue, false // an answer (of any shard) wakes the loop
			}
			continue // its share is taken; an answer wakes the loop
		}
		// After two claims left in a row (a master that hangs, with
		// several accounts on this loop) the step waits for no more:
		// its other claims are left at once, their results taken at
		// the next step, which they wake.
		wait := d.o.ClaimWait
		if leftInRow >= failedClaimsInRow {
			wait = 0
		}
		c, waited := s.claimFor(ctx, sys, now, n, wait)
		if !waited {
			leftInRow++
			continue // left to finish on its own: its result wakes the loop
		}
		leftInRow = 0
		due, full, failed := s.claimed(ctx, sys, n, c, now)
		if failed {
			failedInRow++
			continue
		}
		failedInRow = 0
		if full {
			busy = true
			continue
		}
		nextDue = earlier(nextDue, due)
	}
	return nextDue, busy
}

// claimed sends what a claim of up to n receipts of sys returned, gives
// back the places reserved for it but not used, and reports the
// account's next due time (zero: not known), whether the claim came
// back full (another step should follow at once) and whether it failed
// (the account is then set aside for the prober).
func (s *shard) claimed(ctx context.Context, sys string, n int, c claimResult, now time.Time) (due time.Time, full, failed bool) {
	d := s.d
	if c.err != nil {
		d.giveBack(sys, n)
		d.claimLog.Failed(ctx, sys, c.err, slog.String("system_id", sys))
		s.setAside(sys)
		return time.Time{}, false, true
	}
	d.claimLog.Succeeded(ctx, sys, slog.String("system_id", sys))
	sent := s.sendAll(ctx, sys, c.rs, now)
	d.giveBack(sys, n-sent) // the reservation not used
	if len(c.rs) == n {
		return time.Time{}, true, false
	}
	if !c.ok {
		return time.Time{}, false, false
	}
	return c.due, false, false
}

// earlier is the earlier of two due times, zero meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// claim claims up to n receipts of sys and returns the account's next due
// time: from the claim itself when the queue can tell (one round trip).
func (d *Dispatcher) claim(ctx context.Context, sys string, now time.Time, n int) ([]Receipt, time.Time, bool, error) {
	opCtx, cancel := d.callCtx(ctx, d.o.ClaimTimeout)
	defer cancel()
	return claimNext(opCtx, d.q, sys, now, d.o.Lease, n)
}

// claimNext is q's ClaimNext when it has one, else Claim and, unless the
// claim was full, NextDue. A failed NextDue is not an error: the receipts
// are claimed already (leased), and the poll interval bounds the wait.
func claimNext(ctx context.Context, q Queue, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, time.Time, bool, error) {
	if nc, ok := q.(NextClaimer); ok {
		return nc.ClaimNext(ctx, sys, now, lease, n)
	}
	rs, err := q.Claim(ctx, sys, now, lease, n)
	if err != nil || len(rs) == n {
		return rs, time.Time{}, false, err
	}
	due, ok, err := q.NextDue(ctx, sys)
	if err != nil {
		return rs, time.Time{}, false, nil
	}
	return rs, due, ok, nil
}

// sendAll hands claimed receipts to the sender and returns how many went
// out. What the sender cannot take (no receiver, full windows) is put back.
// rs is filtered in place; from the first Deliver on its receipts are not
// moved again, since the answers point at them.
func (s *shard) sendAll(ctx context.Context, sys string, rs []Receipt, now time.Time) int {
	d := s.d
	live := 0
	for i := range rs {
		if !rs[i].ExpiresAt.IsZero() && !now.Before(rs[i].ExpiresAt) {
			s.expired(rs[i]) // a copy: the batch is compacted below
			continue
		}
		if i != live {
			rs[live] = rs[i]
		}
		live++
	}
	// One lock for the batch: a receipt re-claimed after its lease while
	// still awaiting an answer, or answered and still being acknowledged,
	// is skipped (and not put back: the answer or the Ack settles it).
	fresh := 0
	s.mu.Lock()
	for i := range rs[:live] {
		id := rs[i].MessageID
		if _, held := s.held[id]; held {
			continue
		}
		s.held[id] = struct{}{}
		if i != fresh {
			rs[fresh] = rs[i]
		}
		fresh++
	}
	s.mu.Unlock()
	todo := rs[:fresh]
	bodies := s.deliverBodies(todo, now)
	// Counted before they go: an answer may be settled before Deliver
	// returns. What is not sent is taken off again below.
	d.unanswered.Add(int64(len(todo)))
	sent := 0
	for i := range todo {
		r := &todo[i] // stable: the batch is not moved or reused from here on
		n, textLen := s.smLens[i].body, s.smLens[i].text
		r.setDeliverSM(&s.sm, bodies[:n], textLen)
		bodies = bodies[n:]
		t := s.takeTicket(r)
		err := d.o.Sender.Deliver(sys, &s.sm, t.done)
		if err == nil {
			sent++
			continue
		}
		s.dropTicket(t) // done is not called: not sent
		if errors.Is(err, ErrNoReceiver) || errors.Is(err, ErrBusy) {
			s.putBack(ctx, sys, todo[i:], now, err)
			break
		}
		s.mu.Lock()
		delete(s.held, r.MessageID)
		s.mu.Unlock()
		s.failed(ctx, now, *r, err)
	}
	if unsent := len(todo) - sent; unsent > 0 {
		d.unanswered.Add(-int64(unsent))
	}
	d.m.sentN(sent)
	return sent
}

// deliverBodies builds the deliver_sm text and TLVs of every receipt in
// rs into one string, their lengths in s.smLens: one allocation per batch
// instead of one per receipt. (What the sender does not take is built for
// nothing: the rest of a batch after ErrBusy, rarely more than its tail.)
func (s *shard) deliverBodies(rs []Receipt, now time.Time) string {
	b, lens := s.smBuf[:0], s.smLens[:0]
	for i := range rs {
		start := len(b)
		var textLen int
		b, textLen = rs[i].appendDeliverSM(b, now, &s.dates)
		lens = append(lens, smLen{body: len(b) - start, text: textLen})
	}
	bodies := string(b)
	s.smBuf, s.smLens = b[:0], lens
	if cap(b) > maxBodiesBuf { // an unusually large batch: not kept
		s.smBuf = nil
	}
	return bodies
}

// maxBodiesBuf bounds the buffer deliverBodies keeps from one batch to
// the next.
const maxBodiesBuf = 256 << 10

// putBack returns receipts the sender could not take right now, unchanged.
// After ErrNoReceiver the account is left alone until ReceiversChanged or
// the next sweep; after ErrBusy an answer wakes the loop.
func (s *shard) putBack(ctx context.Context, sys string, rs []Receipt, now time.Time, cause error) {
	s.mu.Lock()
	for i := range rs {
		delete(s.held, rs[i].MessageID)
	}
	if errors.Is(cause, ErrNoReceiver) {
		s.blocked[sys] = now.Add(s.d.o.SweepInterval)
	}
	s.mu.Unlock()
	for i := range rs {
		s.d.retry(ctx, rs[i], now) // un-lease, attempts unchanged
	}
	s.d.o.Logger.Debug("dlr.put_back", "system_id", sys, "receipts", len(rs), "cause", cause.Error())
}

// failed schedules another attempt with backoff.
func (s *shard) failed(ctx context.Context, now time.Time, r Receipt, cause error) {
	d := s.d
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

// expired counts a claimed receipt found past its ExpiresAt and has the
// answer goroutine acknowledge it as EXPIRED.
func (s *shard) expired(r Receipt) {
	if s.d.expiries.first(r.MessageID) { // else the sweep took it as well
		s.d.logExpired(r)
		s.d.m.expiredN(1)
		s.d.counts.add(r.SystemID, -1)
	}
	s.mu.Lock()
	s.held[r.MessageID] = struct{}{} // until acknowledged, like a sent one
	s.mu.Unlock()
	s.answer(result{r: &r, expired: true})
}

func (d *Dispatcher) logExpired(r Receipt) {
	d.o.Logger.Warn("dlr.expired", "message_id", r.MessageID, "system_id", r.SystemID,
		"attempts", r.Attempts, "submitted_at", r.SubmittedAt)
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// sweeper sweeps every SweepInterval, from the start, until ctx is done;
// it closes swept after the first sweep and wakes the loops (a drain
// waits for it). A request on syncReq (tests) is answered once any sweep
// due when it came has run.
func (d *Dispatcher) sweeper(ctx context.Context, syncReq <-chan chan struct{}, swept chan<- struct{}) {
	next := d.o.Clock.Now()
	var syncs []chan struct{}
	first := true
	for {
		if now := d.o.Clock.Now(); !now.Before(next) {
			d.sweep(ctx, now)
			next = now.Add(d.o.SweepInterval)
			if first {
				first = false
				close(swept)
				for _, s := range d.shards {
					s.poke()
				}
			}
		}
		for _, c := range syncs {
			close(c)
		}
		syncs = syncs[:0]
		if ctx.Err() != nil {
			return
		}
		t := d.o.Clock.TimerAt(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case c := <-syncReq:
			syncs = append(syncs, c)
		case <-t.C():
		}
		t.Stop()
	}
}

// sweep refreshes the per-account pending counts and expires receipts of
// all accounts. Only the sweeper runs it. (An outage buffer writes itself back
// in the background, never in a loop.)
//
// Unlike the claims and acknowledgements, whose queue calls outlive ctx
// (opCtx), the sweep's calls end with ctx: it is upkeep that the next
// sweep, or another instance's, does again.
func (d *Dispatcher) sweep(ctx context.Context, now time.Time) {
	if m, ok := d.q.(Maintainer); ok {
		opCtx, cancel := d.sweepCtx(ctx)
		err := m.Maintain(opCtx)
		cancel()
		if ctx.Err() != nil {
			return // stopping: not a failure to report
		}
		if err != nil {
			d.maintLog.Failed(ctx, "", err)
		} else {
			d.maintLog.Succeeded(ctx, "")
		}
	}
	opCtx, cancel := d.sweepCtx(ctx)
	err := d.counts.refresh(opCtx, d.q)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		d.countLog.Failed(ctx, "", err)
	}
	if ls, ok := d.q.(LossSettler); ok {
		// After the counts, which find most losses: an instance's share
		// reaches the loss record in the same sweep.
		opCtx, cancel := d.sweepCtx(ctx)
		err := ls.SettleLosses(opCtx)
		cancel()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			d.settleLog.Failed(ctx, "", err)
		default:
			d.settleLog.Succeeded(ctx, "")
		}
	}
	d.expiries.rotate()
	for range expireRounds {
		opCtx, cancel := d.sweepCtx(ctx)
		rs, err := d.q.Expire(opCtx, now, expireBatch)
		cancel()
		// What Expire returns is expired in the queue even when a later
		// part of it failed (or the sweep was stopped): logged and
		// counted first.
		n := 0
		for _, r := range rs {
			if d.expiries.first(r.MessageID) { // else a claim took it as well
				d.logExpired(r)
				d.counts.add(r.SystemID, -1)
				n++
			}
		}
		d.m.expiredN(n)
		if err != nil {
			if ctx.Err() == nil {
				d.sweepLog.Failed(ctx, "", err)
			}
			break
		}
		d.sweepLog.Succeeded(ctx, "")
		if len(rs) < expireBatch || ctx.Err() != nil {
			break
		}
	}
}
