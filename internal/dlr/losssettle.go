package dlr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Settling a loss across instances. When Redis loses an account's keys,
// each instance knows a share of what it held (lossShares): the finder
// its last count plus its own writes since, every other instance its own
// writes after that count. A share can be negative: an instance that
// acknowledged more than it stored after the count (the usual case when
// clients submit through one instance and receive through another)
// removed receipts the finder's count includes. A counter cannot go
// down, so each instance adding its own share to dlr_lost_total would
// overstate the loss by every negative share.
//
// So the shares are summed in Redis, in a record of the loss in the
// account's slot (P{T}:lost:<marker token>), and reported once: every
// instance that finds the loss adds its share at its next sweep; the
// first sweep of any of them after the record is lossSettle old adds the
// sum to its dlr_lost_total, and logs it. A share added later than that
// (an instance that did not sweep for lossSettle) is reported by its own
// instance when it is positive, and overstates the total when it is not.

// DefaultLossSettle is how long after the first share of a loss is
// added the loss is reported: two sweeps, in which every instance that
// counts the account finds the new marker and adds its share (each
// counts every sweep and adds its share in the same sweep).
const DefaultLossSettle = 4 * time.Second

// lossRecordTTL is how long a loss record stays in Redis after its last
// share: far longer than any instance takes to add its share.
const lossRecordTTL = 10 * time.Minute

// maxPendingLosses bounds the losses waiting to be settled
// (dlr_losses_unsettled). Past it (Redis keeps failing the records while
// it loses account after account) the oldest is reported by this
// instance alone (its share, if positive).
const maxPendingLosses = 1024

// lossSettleLua: KEYS the loss record; ARGV share (signed), now (unix ms),
// settle (ms), record TTL (ms). Adds the share to the record (its first
// share sets its time) and, once the record is settle old, returns what
// the caller reports: the sum less what was reported before, if above it.
// Returns {to report, settled (1/0)}.
const lossSettleLua = `
local k = KEYS[1]
redis.call('HSETNX', k, 'at', ARGV[2])
local sum = redis.call('HINCRBY', k, 'sum', ARGV[1])
redis.call('PEXPIRE', k, ARGV[4])
if tonumber(ARGV[2]) < tonumber(redis.call('HGET', k, 'at')) + tonumber(ARGV[3]) then return {0, 0} end
local rep = tonumber(redis.call('HGET', k, 'reported') or '0')
if sum > rep then
  redis.call('HSET', k, 'reported', sum)
  return {sum - rep, 1}
end
return {0, 1}`

// pendingLoss is this instance's share of one loss of an account's keys,
// until the loss is settled.
type pendingLoss struct {
	sys, token string
	share      int  // signed: this instance's writes may have removed more than they stored
	added      bool // the share is in the record
	detail     string
}

// lossFoundLocked records this instance's share n of a loss of sys's keys
// whose new marker has token, to be added to the loss record at the next
// sweep (settleLosses), and forgets what it knew of the account's counts
// and writes.
func (q *RedisQueue) lossFoundLocked(sys, token string, n int, detail string) {
	delete(q.shares, sys)
	delete(q.listed, sys)
	if len(q.losses) == maxPendingLosses {
		old := q.losses[0]
		q.losses = q.losses[1:]
		if !old.added {
			q.reportLossLocked(old.sys, old.share, old.detail+" (reported by this instance alone: too many losses waiting to be settled)")
		}
	}
	q.losses = append(q.losses, pendingLoss{sys: sys, token: token, share: n, detail: detail})
	q.log.Warn("dlr.redis_loss_found", "system_id", sys, "share", n, "detail", detail)
}

// unsettledLosses is how many losses this instance found and has not
// seen settled (dlr_losses_unsettled).
func (q *RedisQueue) unsettledLosses() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.losses)
}

// reportLossLocked counts n receipts of sys lost (nothing when n <= 0)
// and logs them.
func (q *RedisQueue) reportLossLocked(sys string, n int, detail string) {
	if n <= 0 {
		return
	}
	q.o.Lost.add(LostRedisDataLoss, n)
	q.log.Error("dlr.redis_lost_receipts", "system_id", sys, "receipts", n, "detail", detail)
}

// lossRecordKey is the record of the loss of sys whose new marker has
// token, in the account's slot.
func (q *RedisQueue) lossRecordKey(sys, token string) string {
	return q.accountBase(sys) + "lost:" + token
}

// SettleLosses adds this instance's shares of the losses it found to
// their records and reports those settled (settleLosses).
func (q *RedisQueue) SettleLosses(ctx context.Context) error {
	return q.settleLosses(ctx, time.Now())
}

// ReportUnsettledLosses settles, at shutdown, the losses this instance
// found and has not reported: without waiting for their records to be
// settle old (what the other instances added by then is in the sum).
// A loss whose record cannot be read is reported by this instance alone,
// its own share if positive: counted twice, should another instance
// settle it later, rather than not at all.
func (q *RedisQueue) ReportUnsettledLosses(ctx context.Context) {
	q.mu.Lock()
	pending := q.losses
	q.losses = nil
	q.mu.Unlock()
	for _, l := range pending {
		n, _, err := q.addShare(ctx, l, time.Now(), 0)
		q.mu.Lock()
		if err != nil {
			q.reportLossLocked(l.sys, l.share, l.detail+" (reported by this instance alone at shutdown: the loss record did not answer)")
		} else {
			q.reportLossLocked(l.sys, n, l.detail)
		}
		q.mu.Unlock()
	}
}

// addShare runs lossSettleLua for l at now: its share, unless already
// added, into its record; settled when the record is settle old, with
// what this instance reports then.
func (q *RedisQueue) addShare(ctx context.Context, l pendingLoss, now time.Time, settle time.Duration) (report int, settled bool, err error) {
	share := l.share
	if l.added {
		share = 0
	}
	res, err := q.s.lossSettle.Run(ctx, q.c, []string{q.lossRecordKey(l.sys, l.token)},
		share, now.UnixMilli(), settle.Milliseconds(), lossRecordTTL.Milliseconds()).Int64Slice()
	if err == nil && len(res) != 2 {
		err = fmt.Errorf("%w: loss record reply of %d values, want 2", ErrCorrupt, len(res))
	}
	if err != nil {
		return 0, false, redisErr("settle the loss of "+l.sys, err)
	}
	return int(res[0]), res[1] == 1, nil
}

// settleLosses adds this instance's shares of the losses it found to
// their records and reports those settled (see above). A loss whose
// record fails stays for the next sweep; one account's failure stops
// none of the others.
func (q *RedisQueue) settleLosses(ctx context.Context, now time.Time) error {
	q.mu.Lock()
	pending := append([]pendingLoss(nil), q.losses...)
	q.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	done := make(map[[2]string]bool)
	added := make(map[[2]string]bool)
	// Each master's losses one after another, the masters at once: a
	// master that hangs holds only its own accounts' records.
	accounts := make([]string, len(pending))
	for i, l := range pending {
		accounts[i] = l.sys
	}
	var mu sync.Mutex // done and added
	err := q.eachMaster(ctx, accounts, func(idx []int) error {
		var errs []error
		for _, i := range idx {
			l := pending[i]
			n, settled, err := q.addShare(ctx, l, now, q.o.LossSettle)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			k := [2]string{l.sys, l.token}
			mu.Lock()
			added[k], done[k] = true, settled
			mu.Unlock()
			if settled {
				q.mu.Lock()
				q.reportLossLocked(l.sys, n, l.detail)
				q.mu.Unlock()
			}
		}
		return errors.Join(errs...)
	})
	q.mu.Lock()
	kept := q.losses[:0]
	for _, l := range q.losses {
		k := [2]string{l.sys, l.token}
		if done[k] {
			continue
		}
		l.added = l.added || added[k]
		kept = append(kept, l)
	}
	q.losses = kept
	q.mu.Unlock()
	return err
}
