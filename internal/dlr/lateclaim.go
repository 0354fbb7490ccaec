package dlr

import (
	"context"
	"time"
)

// Claims left to finish on their own. A loop claims for its accounts one
// after another, and a claim of an account whose Cluster master has just
// hung waits out ClaimTimeout (REDIS_TIMEOUT_SECONDS) before the account
// is set aside: every other account of the shard, the healthy masters'
// ones, waited with it, and their receipts due meanwhile went out late
// together. With Options.ClaimWait set, the loop waits that long for a
// claim; one still running then is left to finish on its own goroutine,
// its account skipped (claiming) and its reservation of places kept, and
// the loop goes on with the other accounts. The claim's result is put in
// late and wakes the loop, whose next step takes it before anything else
// (takeLateClaims): its receipts are sent, or, if it failed, the account
// is set aside, as at once.
//
// While a claim is left running the shard forgets no settled id of its
// account: the claim may have begun before their acks landed and return
// them (see shard.held), and they must still be held when its result is
// taken (forgetSettledLocked). After two claims left in a row the step
// waits for none of its other claims: they are left at once, and those
// that answer are taken at the next step, which they wake. So a master
// that hangs with many accounts on one loop costs the step two
// ClaimWaits, not one per account, and the healthy accounts after them
// are not set aside.

// claimResult is what one claim returned (claimNext).
type claimResult struct {
	rs  []Receipt
	due time.Time
	ok  bool // due is known
	err error
}

// lateClaim is the result of a claim left to finish, for n places
// reserved for sys.
type lateClaim struct {
	sys string
	n   int
	res claimResult
}

// claimFor claims up to n receipts of sys. With ClaimWait set it waits
// for the claim at most wait (0: not at all); a claim still running then
// is left to finish (see above) and claimFor reports that it did not
// wait. Without ClaimWait it waits for the claim.
func (s *shard) claimFor(ctx context.Context, sys string, now time.Time, n int, wait time.Duration) (claimResult, bool) {
	d := s.d
	run := func() claimResult {
		rs, due, ok, err := d.claim(ctx, sys, now, n)
		return claimResult{rs: rs, due: due, ok: ok, err: err}
	}
	if d.o.ClaimWait <= 0 {
		return run(), true
	}
	ch := make(chan claimResult, 1)
	if wait > 0 {
		// On the dispatcher's clock, set before the claim starts.
		t := d.o.Clock.TimerAt(d.o.Clock.Now().Add(wait))
		defer t.Stop()
		go func() { ch <- run() }()
		select {
		case c := <-ch:
			return c, true
		case <-t.C():
		}
	} else {
		go func() { ch <- run() }()
	}
	s.mu.Lock()
	s.claiming[sys] = true
	s.mu.Unlock()
	go func() {
		c := <-ch // the claim is bounded by ClaimTimeout
		s.mu.Lock()
		s.late = append(s.late, lateClaim{sys: sys, n: n, res: c})
		s.mu.Unlock()
		s.poke()
	}()
	return claimResult{}, false
}

// takeLateClaims takes the results of the claims left to finish that
// have ended: sends their receipts (or sets their accounts aside) and
// reports the earliest next due time they gave and whether one came back
// full, as a step does for its own claims.
func (s *shard) takeLateClaims(ctx context.Context, now time.Time) (nextDue time.Time, busy bool) {
	s.mu.Lock()
	late := s.late
	s.late = nil
	s.mu.Unlock()
	for _, l := range late {
		due, full, _ := s.claimed(ctx, l.sys, l.n, l.res, now)
		busy = busy || full
		nextDue = earlier(nextDue, due)
		s.mu.Lock()
		delete(s.claiming, l.sys) // once its receipts are held
		s.mu.Unlock()
	}
	return nextDue, busy
}

// claimsLeft is how many claims the loops left to finish and have not
// taken the results of (dlr_claims_left).
func (d *Dispatcher) claimsLeft() int {
	n := 0
	for _, s := range d.shards {
		s.mu.Lock()
		n += len(s.claiming)
		s.mu.Unlock()
	}
	return n
}
