package dlr

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
)

// maxLostClaims bounds the claims per account whose leases are remembered
// for taking back (claimLeases): during a long outage every claim fails,
// and beyond this many the oldest are left to the visibility timeout.
const maxLostClaims = 64

// claimLeases follows the lease ends of this instance's claims, so that
// the receipts of a claim whose reply never came (a timeout, a connection
// cut, a failover: the script may have run) are taken back by the next
// sweep (Maintain, every couple of seconds, outside the claim path)
// instead of waiting out the visibility timeout. Every claim of an
// account gets a lease end of its own (one millisecond after the last at
// least), so the lease set's members scored with a lost claim's lease end
// are exactly the receipts that claim leased, never those of a claim
// still being delivered. The uniqueness holds within one process: two
// processes with the same INSTANCE_ID claiming at once (a restart while
// the old one still drains) could meet on a lease end, and a lost claim's
// take-back would then send some of the other's receipts again (at least
// once, never lost).
type claimLeases struct {
	mu   sync.Mutex
	last map[string]int64   // account → lease end of its last claim (unix ms)
	lost map[string][]int64 // account → lease ends of claims without a reply
}

func newClaimLeases() *claimLeases {
	return &claimLeases{last: make(map[string]int64), lost: make(map[string][]int64)}
}

// next returns the lease end of a new claim of sys: want, or one
// millisecond after the account's last claim when that is later.
func (c *claimLeases) next(sys string, want int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.last[sys]; ok && want <= last {
		want = last + 1
	}
	c.last[sys] = want
	return want
}

// failed remembers that the claim of sys leasing until got no reply. It
// returns how many lease ends it forgot to stay within maxLostClaims (the
// oldest first): their receipts are not lost, but wait for the visibility
// timeout, so the caller counts them.
func (c *claimLeases) failed(sys string, until int64) (forgotten int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := append(c.lost[sys], until)
	if len(l) > maxLostClaims {
		forgotten = len(l) - maxLostClaims
		l = l[forgotten:]
	}
	c.lost[sys] = l
	return forgotten
}

// putBack remembers again lease ends that take returned and a sweep could
// not take back. They are older than any remembered since, so they go
// first and are the first forgotten past maxLostClaims; it returns how
// many were.
func (c *claimLeases) putBack(sys string, older []int64) (forgotten int) {
	if len(older) == 0 {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	l := append(slices.Clone(older), c.lost[sys]...)
	if len(l) > maxLostClaims {
		forgotten = len(l) - maxLostClaims
		l = l[forgotten:]
	}
	c.lost[sys] = l
	return forgotten
}

// claimFailed remembers a claim of sys without a reply for the next
// sweep's take-back.
func (q *RedisQueue) claimFailed(ctx context.Context, sys string, until int64) {
	q.countForgotten(ctx, sys, q.claims.failed(sys, until))
}

// countForgotten counts n lease ends of sys forgotten past maxLostClaims
// (dlr_lost_claims_forgotten_total) and logs them, at most once per
// account and repeat interval until a sweep takes back all of the
// account's remembered claims.
func (q *RedisQueue) countForgotten(ctx context.Context, sys string, n int) {
	if n == 0 {
		return
	}
	if q.forgotten != nil {
		q.forgotten.Add(float64(n))
	}
	q.forgetLog.Failed(ctx, sys, errLostClaimsForgotten, slog.String("system_id", sys), slog.Int("forgotten", n))
}

// errLostClaimsForgotten is what dlr.lost_claims_forgotten logs.
var errLostClaimsForgotten = errors.New("more claims without a reply than remembered: the oldest one's receipts wait for the visibility timeout")

// take returns and forgets the lease ends of sys's claims without a reply.
func (c *claimLeases) take(sys string) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lost[sys]
	if len(l) > 0 {
		delete(c.lost, sys)
	}
	return l
}

// accounts returns the accounts with claims without a reply.
func (c *claimLeases) accounts() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.lost))
	for sys := range c.lost {
		out = append(out, sys)
	}
	return out
}

// takeBackLostClaims puts the receipts of every claim that got no reply
// back into their account's due set, due at once. For an account it stops
// at the first failure and keeps that lease end and the rest for the next
// sweep: one failed round trip per account while its part of Redis does
// not answer.
func (q *RedisQueue) takeBackLostClaims(ctx context.Context) error {
	// The claims of the accounts of a master that hangs are lost ones:
	// each master's accounts apart (eachMaster), so that they do not
	// spend the sweep's time before the other masters' are reached.
	accounts := q.claims.accounts()
	return q.eachMaster(ctx, accounts, func(idx []int) error {
		var errs []error
		for _, i := range idx {
			if err := q.takeBackLostClaimsOf(ctx, accounts[i]); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	})
}

// takeBackLostClaimsOf takes back the lost claims of sys, oldest first,
// up to the first that fails; that one and the rest are remembered again.
func (q *RedisQueue) takeBackLostClaimsOf(ctx context.Context, sys string) error {
	lost := q.claims.take(sys)
	for i, until := range lost {
		n, err := q.reclaimClaim(ctx, sys, until)
		if err != nil {
			q.countForgotten(ctx, sys, q.claims.putBack(sys, lost[i:]))
			return err
		}
		if n > 0 {
			q.log.Info("dlr.lost_claim_taken_back", "system_id", sys, "receipts", n)
		}
	}
	q.forgetLog.Succeeded(ctx, sys) // the next forgotten one is logged at once
	return nil
}
