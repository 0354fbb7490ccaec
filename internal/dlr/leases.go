package dlr

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Maintainer is implemented by queues with periodic upkeep; the
// dispatcher calls Maintain on every sweep, outside the claim path.
type Maintainer interface {
	Maintain(ctx context.Context) error
}

var _ Maintainer = (*RedisQueue)(nil)

// LossSettler is a queue that settles, once per sweep after the pending
// counts (which find most losses of an account's keys), what it found
// Redis lost (losssettle.go).
type LossSettler interface {
	SettleLosses(ctx context.Context) error
}

// unsettledReporter is a queue that reports, at shutdown, the losses it
// has not settled yet (BufferedQueue.Close).
type unsettledReporter interface {
	ReportUnsettledLosses(ctx context.Context)
}

var (
	_ LossSettler       = (*BufferedQueue)(nil)
	_ unsettledReporter = (*RedisQueue)(nil)
)

var _ LossSettler = (*RedisQueue)(nil)

// TakeBackLeases puts every receipt this instance (InstanceID) had leased
// before it stopped back into its account's due set, due now: a restarted
// instance does not wait for the visibility timeout of its own leases.
// Only leases ending before before are taken back: the caller passes the
// time it started plus the lease it claims with, so that the leases its
// own process took since (which end later) stay. The application calls it
// at start-up, and again until it succeeds when Redis did not answer.
func (q *RedisQueue) TakeBackLeases(ctx context.Context, before time.Time) (int, error) {
	accounts, err := q.accounts(ctx)
	n := 0
	var errs []error
	if err != nil {
		errs = append(errs, redisErr("take back leases", err))
	}
	for _, sys := range accounts {
		m, err := q.reclaimBefore(ctx, sys, before.UnixMilli())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n += m
	}
	if n > 0 {
		q.log.Info("dlr.leases_taken_back", "instance_id", q.o.InstanceID, "receipts", n)
	}
	return n, errors.Join(errs...)
}

// GiveBackLeases makes every receipt this instance leases due again at
// once, for any instance to send: the application calls it as it stops,
// once its dispatcher and sessions have stopped and nothing of this
// process sends any more. It gives back nothing when the heartbeat was
// last written by another process with the same InstanceID (a restart
// overlapping this one's drain), whose leases it cannot tell from its
// own: that process took back this one's older leases as it started.
func (q *RedisQueue) GiveBackLeases(ctx context.Context, before time.Time) (int, error) {
	hctx, cancel := q.callCtx(ctx)
	v, err := q.c.Get(hctx, q.heartbeatKey(q.o.InstanceID)).Result()
	cancel()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return 0, redisErr("heartbeat", err)
	case !strings.HasSuffix(v, " "+q.process):
		q.log.Info("dlr.leases_left_to_other_process", "instance_id", q.o.InstanceID,
			"detail", "another process with this INSTANCE_ID runs: this one's leases are left to it and to the visibility timeout")
		return 0, nil
	}
	return q.TakeBackLeases(ctx, before)
}

// Maintain writes this instance's heartbeat, takes back the receipts of
// this instance's claims that got no reply, and, for every account, puts
// back into the due set the leases that ended (the visibility timeout) and
// all leases of instances whose heartbeat expired (they died: see
// deadOrMissing). One account's failure stops none of the others, and
// neither does the heartbeat's (its key lives outside the accounts'
// slots).
func (q *RedisQueue) Maintain(ctx context.Context) error {
	var errs []error
	hctx, cancel := q.callCtx(ctx)
	if err := q.c.Set(hctx, q.heartbeatKey(q.o.InstanceID), time.Now().UTC().Format(time.RFC3339)+" "+q.process, q.o.Heartbeat).Err(); err != nil {
		errs = append(errs, redisErr("heartbeat", err))
	}
	cancel()
	if err := q.takeBackLostClaims(ctx); err != nil {
		errs = append(errs, err)
	}
	lctx, cancel := q.callCtx(ctx)
	q.listAccounts(lctx, nil) // accounts a failed commit could not list
	cancel()
	accounts, err := q.accounts(ctx)
	if err != nil {
		errs = append(errs, redisErr("maintain", err))
	}
	alive := map[string]bool{q.o.InstanceID: true}
	checked := make(map[string]bool)
	defer func() {
		if len(errs) == 0 {
			q.forgetUnchecked(checked)
		}
	}()
	// One pipeline for every account's lessees (a sweep must not cost a
	// round trip per account); accounts without leases cost nothing more.
	// One per master on a Cluster (eachMaster): a hung one fails its own
	// accounts' only.
	cmds := make([]*redis.StringSliceCmd, len(accounts))
	if err := q.eachMaster(ctx, accounts, func(idx []int) error {
		_, _ = q.c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, i := range idx {
				cmds[i] = p.SMembers(ctx, q.lesseesKey(accounts[i]))
			}
			return nil
		})
		return nil // each command's error is read below
	}); err != nil {
		errs = append(errs, err)
	}
	for i, sys := range accounts {
		if cmds[i] == nil {
			continue // its master is not known: in errs
		}
		lessees, err := cmds[i].Result()
		if err != nil {
			errs = append(errs, redisErr("maintain "+sys, err))
			continue
		}
		for _, l := range lessees {
			live, known := alive[l]
			if !known {
				hctx, cancel := q.callCtx(ctx)
				n, err := q.c.Exists(hctx, q.heartbeatKey(l)).Result()
				cancel()
				if err != nil {
					errs = append(errs, redisErr("heartbeat of "+l, err))
					continue
				}
				checked[l] = true
				live = q.deadOrMissing(l, n == 1)
				alive[l] = live
			}
			m, err := q.reclaim(ctx, sys, l, !live)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if m > 0 && !live {
				q.log.Warn("dlr.leases_of_dead_instance_taken", "system_id", sys, "instance_id", l, "receipts", m)
			}
		}
	}
	return errors.Join(errs...)
}

// deadOrMissing decides from whether instance's heartbeat is there
// (present) whether the instance counts as alive. An instance counts as
// dead only once its heartbeat has been found gone for a third of
// Heartbeat (q.missing), the longest a live instance goes between two
// writes of it: a heartbeat can vanish from a live instance (its key's
// Cluster master failed over after the key expired there, or Redis
// restarted empty), and the instance writes it again at its next sweep.
// Taking a live instance's leases would send its receipts in flight
// twice; waiting that long only delays a dead instance's. It is time,
// not a number of Maintains: two can run milliseconds apart (a drain's
// sweep right after the last one, a sweep that ran long).
func (q *RedisQueue) deadOrMissing(instance string, present bool) (alive bool) {
	now := q.o.Clock.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	if present {
		delete(q.missing, instance)
		return true
	}
	since, seen := q.missing[instance]
	if !seen {
		if q.missing == nil {
			q.missing = make(map[string]time.Time)
		}
		q.missing[instance] = now
		q.log.Info("dlr.instance_heartbeat_missing", "instance_id", instance)
		return true
	}
	return now.Sub(since) < q.o.Heartbeat/3
}

// forgetUnchecked drops the missing heartbeats of instances a Maintain
// that checked every lessee did not meet: they lease nothing any more.
func (q *RedisQueue) forgetUnchecked(checked map[string]bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for l := range q.missing {
		if !checked[l] {
			delete(q.missing, l)
		}
	}
}

// reclaimClaim puts the receipts this instance leased on sys by the claim
// whose lease end was until back into the due set, due at once.
func (q *RedisQueue) reclaimClaim(ctx context.Context, sys string, until int64) (int, error) {
	return q.reclaimOwn(ctx, sys, "at", until, "take back a lost claim")
}

// reclaimBefore puts this instance's leases on sys that end before the
// unix ms before back into the due set, due at once.
func (q *RedisQueue) reclaimBefore(ctx context.Context, sys string, before int64) (int, error) {
	return q.reclaimOwn(ctx, sys, "before", before, "take back leases")
}

// reclaimOwn runs the reclaim script on this instance's leases of sys in
// mode ("at" or "before") with the lease end ms.
func (q *RedisQueue) reclaimOwn(ctx context.Context, sys, mode string, ms int64, op string) (int, error) {
	k := q.accountKeys(sys)
	keys := []string{q.leaseKey(sys, q.o.InstanceID), k[2], q.lesseesKey(sys), k[0], k[3]}
	n, err := q.s.reclaim.Run(ctx, q.c, keys, time.Now().UnixMilli(), mode, q.o.InstanceID, ms).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, redisErr(op, err)
	}
	return n, nil
}

// reclaim puts instance's leases on sys back into the due set: all of
// them, or those that ended.
func (q *RedisQueue) reclaim(ctx context.Context, sys, instance string, all bool) (int, error) {
	flag := "0"
	if all {
		flag = "1"
	}
	k := q.accountKeys(sys)
	keys := []string{q.leaseKey(sys, instance), k[2], q.lesseesKey(sys), k[0], k[3]}
	n, err := q.s.reclaim.Run(ctx, q.c, keys, time.Now().UnixMilli(), flag, instance).Int()
	if err != nil && !errors.Is(err, redis.Nil) {
		return 0, redisErr("reclaim leases of "+instance, err)
	}
	return n, nil
}
