package dlr

import (
	"context"
	"sync"
)

// maxLostClaims bounds the claims per account whose leases are remembered
// for taking back (claimLeases): during a long outage every claim fails,
// and beyond this many the oldest are left to the visibility timeout.
const maxLostClaims = 64

// claimLeases follows the lease ends of this instance's claims, so that
// the receipts of a claim whose reply never came (a timeout, a connection
// cut, a failover: the script may have run) are taken back at the
// account's next claim instead of waiting out the visibility timeout.
// Every claim of an account gets a lease end of its own (one millisecond
// after the last at least), so the lease set's members scored with a lost
// claim's lease end are exactly the receipts that claim leased, never
// those of a claim still being delivered.
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

// failed remembers that the claim of sys leasing until got no reply.
func (c *claimLeases) failed(sys string, until int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := append(c.lost[sys], until)
	if len(l) > maxLostClaims {
		l = l[len(l)-maxLostClaims:]
	}
	c.lost[sys] = l
}

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

// takeBackLostClaims puts the receipts of sys's claims that got no reply
// back into the due set, due at once. At the first failure it stops and
// keeps that lease end and the rest for the next claim: while the
// account's part of Redis does not answer, a claim costs one more failed
// round trip, not one per lost claim.
func (q *RedisQueue) takeBackLostClaims(ctx context.Context, sys string) {
	lost := q.claims.take(sys)
	for i, until := range lost {
		n, err := q.reclaimClaim(ctx, sys, until)
		if err != nil {
			for _, u := range lost[i:] {
				q.claims.failed(sys, u)
			}
			return
		}
		if n > 0 {
			q.log.Info("dlr.lost_claim_taken_back", "system_id", sys, "receipts", n)
		}
	}
}
