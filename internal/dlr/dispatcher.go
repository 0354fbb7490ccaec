package dlr

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Dispatcher sends pending receipts as deliver_sm to the receiver binds of
// their account. Scheduling is done by Options.Shards loops (Run), each
// owning the accounts whose system_id hashes to it: one account's receipts
// are claimed and sent by one loop, in order, while several accounts use
// several cores. A loop claims due receipts only for its accounts that
// have a receiver bound, so receipts of other accounts cost nothing until
// a receiver binds or they expire.
//
// Outcomes of a deliver_sm:
//   - deliver_sm_resp ESME_ROK: removed (Ack), remembered as DELIVERED.
//   - ESME_RX_P_APPN or ESME_RX_R_APPN: dropped (Ack as UNDELIVERABLE),
//     logged and counted in dlr_dropped_total{status}.
//   - ESME_RX_T_APPN, any other error status, a timeout or a lost
//     connection: retried with exponential backoff. Other statuses are
//     retried rather than dropped because a receipt the client never saw
//     is worse than one sent again; DLR_TTL_SECONDS still ends it. After
//     8 refusals in a row (an error status, a generic_nack) the account's
//     receipts pause as well (refusal.go).
//   - Past ExpiresAt: dropped, logged, counted in dlr_expired_total.
//   - ErrNoReceiver from the Sender: put back unchanged; the account is not
//     claimed again until ReceiversChanged or the next sweep.
//   - ErrBusy from the Sender (the receivers' windows are full): put back
//     unchanged; the account is claimed again when an answer arrives.
type Dispatcher struct {
	o        Options
	q        Queue
	m        *metrics
	stop     chan struct{}
	stopOnce sync.Once
	loop     chan struct{}      // a token held by Run or Drain (a lock Drain can stop waiting for)
	syncReq  chan chan struct{} // tests: close the channel once every shard is quiescent
	pending  atomic.Int64       // last count the queue gave
	// pendingStale: the queue's last Len failed; pendingAsking: Pending
	// asks it again in the background.
	pendingStale, pendingAsking atomic.Bool
	// inflight is the deliver_sm of all shards sent (or reserved) and not
	// answered, under MaxInFlight, shared out between accounts
	// (fairshare.go).
	inflight *inflightShares
	// unanswered is the part of inflight sent (dlr_deliver_inflight):
	// without the places a step reserved while it claims.
	unanswered atomic.Int64
	claimLog   *logging.Repeats // dlr.claim_failed: once per outage and account, then every 30 s
	sweepLog   *logging.Repeats // dlr.expiry_sweep_failed, likewise
	countLog   *logging.Repeats // dlr.pending_count_failed, likewise
	maintLog   *logging.Repeats // dlr.maintenance_failed, likewise
	settleLog  *logging.Repeats // dlr.loss_settle_failed, likewise
	counts     *accountPending
	expiries   expirySeen // counted once when a claim and the sweep both expire a receipt
	shards     []*shard
	byRef      claimedAcker // q, when it acknowledges claimed receipts by pointer
}

// claimedAcker is implemented by a queue that acknowledges the receipts
// its Claim handed out by pointer (MemoryQueue): it finds their entries
// without copying them or looking their ids up again.
type claimedAcker interface {
	ackClaimed(o Outcome, rs []*Receipt)
}

// NewDispatcher returns a dispatcher; start it with Run.
func NewDispatcher(opts Options) *Dispatcher {
	opts.setDefaults()
	d := &Dispatcher{
		o:       opts,
		q:       opts.Queue,
		stop:    make(chan struct{}),
		loop:    make(chan struct{}, 1),
		syncReq: make(chan chan struct{}),
		counts:  newAccountPending(),
	}
	d.inflight = newInflightShares(d.o.MaxInFlight)
	d.byRef, _ = opts.Queue.(claimedAcker)
	d.shards = make([]*shard, opts.Shards)
	for i := range d.shards {
		d.shards[i] = newShard(d, i)
	}
	d.m = newMetrics(opts.Registerer, func() float64 { return float64(d.Pending()) },
		func() float64 { return float64(d.unanswered.Load()) }, func() float64 { return float64(d.claimsLeft()) }, opts.Logger)
	d.claimLog = logging.NewRepeats(d.o.Logger, "dlr.claim_failed", logging.RepeatOptions{Recovered: "dlr.claim_recovered", Now: d.o.Clock.Now})
	d.sweepLog = logging.NewRepeats(d.o.Logger, "dlr.expiry_sweep_failed", logging.RepeatOptions{Now: d.o.Clock.Now})
	d.countLog = logging.NewRepeats(d.o.Logger, "dlr.pending_count_failed", logging.RepeatOptions{Now: d.o.Clock.Now})
	d.maintLog = logging.NewRepeats(d.o.Logger, "dlr.maintenance_failed", logging.RepeatOptions{Now: d.o.Clock.Now})
	d.settleLog = logging.NewRepeats(d.o.Logger, "dlr.loss_settle_failed", logging.RepeatOptions{Now: d.o.Clock.Now})
	if reg := opts.Registerer; reg != nil {
		if err := reg.Register(d.counts); err != nil {
			opts.Logger.Error("dlr.metric_not_registered", "err", err)
		}
	}
	return d
}

// Schedule stores r in the queue. When it returns nil the receipt is as
// durable as the queue gets, and the submit_sm_resp may be sent. It counts
// delivrd_total{reason=r.Reason}.
func (d *Dispatcher) Schedule(ctx context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	if err := d.q.Put(ctx, r); err != nil {
		return fmt.Errorf("dlr: schedule %s: %w", r.MessageID, err)
	}
	d.scheduled(&r)
	return nil
}

// scheduled counts and logs a stored receipt and wakes its shard's loop
// when the receipt falls due before the loop's next wake-up.
func (d *Dispatcher) scheduled(r *Receipt) {
	ctx := context.Background()
	d.m.scheduled(r.Reason)
	d.counts.add(r.SystemID, 1)
	if d.o.Logger.Enabled(ctx, slog.LevelDebug) {
		d.o.Logger.Debug("dlr.queued", "message_id", r.MessageID, "system_id", r.SystemID,
			"due", r.DueAt.UTC().Format(time.RFC3339Nano), "err", r.Err, "reason", r.Reason)
	}
	s := d.shardOf(r.SystemID)
	if !r.DueAt.Before(time.Unix(0, s.nextWake.Load())) {
		return // the loop wakes before it is due: no lock taken
	}
	s.mu.Lock()
	bound := s.receivers[r.SystemID] > 0
	s.mu.Unlock()
	if bound {
		s.poke()
	}
}

// ScheduleAsync is Schedule without holding the caller: done is called
// once the receipt is as durable as the queue gets (or with the error),
// from the queue's committer goroutine when the queue is an AsyncQueue.
// The submit_sm_resp promising the receipt is sent from done.
func (d *Dispatcher) ScheduleAsync(r Receipt, done func(error)) {
	if handled, err := d.ScheduleNow(r); handled {
		done(err)
		return
	}
	if err := validate(r); err != nil {
		done(err)
		return
	}
	if hp, ok := d.q.(hookedPutter); ok {
		// The queue calls d.afterPut, then done: no closure holding a
		// copy of r per receipt.
		hp.putHooked(r, putHooks{done: done, after: d})
		return
	}
	aq, ok := d.q.(AsyncQueue)
	if !ok {
		ctx, cancel := context.WithTimeout(context.Background(), d.o.OpTimeout)
		defer cancel()
		done(d.Schedule(ctx, r))
		return
	}
	d.putAsync(aq, r, done)
}

// putAsync is ScheduleAsync's store into an AsyncQueue. It is its own
// function so that only its copy of r is captured by the callback: in
// ScheduleAsync the capture would move every caller's r to the heap, the
// memory queue's too.
func (d *Dispatcher) putAsync(aq AsyncQueue, r Receipt, done func(error)) {
	aq.PutAsync(r, func(err error) { done(d.afterPut(&r, err)) })
}

// ScheduleNow stores r at once when the queue never blocks (the memory
// queue) and reports handled with the outcome; otherwise it stores
// nothing and the caller uses ScheduleAsync. It spares the accept path a
// callback per receipt.
func (d *Dispatcher) ScheduleNow(r Receipt) (handled bool, err error) {
	if _, ok := d.q.(*MemoryQueue); !ok {
		return false, nil
	}
	return true, d.Schedule(context.Background(), r)
}

// Accepted remembers an accepted message that asked for no receipt
// (DLR_MODE=requested) as delivered, so that query_sm answers its state,
// and calls done (when not nil) once it is recorded or failed, perhaps
// before it returns: the caller answers the submit then, so a query_sm
// sent at once finds it. A failure is logged at DEBUG, counted in
// dlr_outcomes_not_recorded_total, and costs only the answer to a later
// query_sm.
func (d *Dispatcher) Accepted(r Receipt, done func()) {
	o := Outcome{State: pdu.StateDelivered, At: r.SubmittedAt, SystemID: r.SystemID, Destination: r.Dest.Addr, SubmittedAt: r.SubmittedAt}
	finish := func(err error) {
		if err != nil {
			d.m.notRecordedOne()
			d.o.Logger.Debug("dlr.outcome_not_recorded", "message_id", r.MessageID, "err", err)
		}
		if done != nil {
			done()
		}
	}
	if rec, ok := d.q.(OutcomeRecorder); ok {
		rec.RecordAsync(o, r, finish)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.o.OpTimeout)
	defer cancel()
	finish(d.q.Ack(ctx, o, r))
}

// SetAccounts names the accounts of the accounts file, at start and after
// every reload: dlr_account_pending has a series for each from the start,
// and none for an account a reload removed.
func (d *Dispatcher) SetAccounts(systemIDs []string) { d.counts.setAccounts(systemIDs) }

// ReceiversChanged tells the dispatcher that systemID now has n receiver or
// transceiver binds (on this instance). With n > 0 its due receipts are
// claimed and sent.
func (d *Dispatcher) ReceiversChanged(systemID string, n int) {
	if n > 0 {
		d.counts.touch(systemID)
	}
	s := d.shardOf(systemID)
	s.mu.Lock()
	if n > s.receivers[systemID] {
		delete(s.refusing, systemID) // a new receiver may take them
		s.refusingN.Store(int32(len(s.refusing)))
	}
	if n > 0 {
		s.receivers[systemID] = n
	} else {
		delete(s.receivers, systemID)
	}
	delete(s.blocked, systemID)
	s.mu.Unlock()
	if n > 0 {
		s.poke()
	}
}

// Cancel removes a pending receipt of systemID (cancel_sm). It reports
// whether one was removed: not when it is being sent.
//
// A receipt being sent, by this instance or another, is refused by the
// queue: it holds a live lease (the lease outlasts the deliver_sm's
// response timeout), and its answer would record it DELIVERED after the
// cancel said DELETED.
func (d *Dispatcher) Cancel(ctx context.Context, systemID, messageID string) (bool, error) {
	ok, err := d.q.Cancel(ctx, systemID, messageID, d.o.Clock.Now())
	if err != nil {
		return false, fmt.Errorf("dlr: cancel %s: %w", messageID, err)
	}
	if ok {
		d.counts.add(systemID, -1)
		d.o.Logger.Info("dlr.cancelled", "message_id", messageID, "system_id", systemID)
	}
	return ok, nil
}

// Lookup answers query_sm: StateEnroute while the receipt of systemID is
// pending, then DELIVERED (or UNDELIVERABLE, EXPIRED, DELETED) with the
// time it got there, for as long as the queue remembers it; false for an
// unknown id or one of another account.
func (d *Dispatcher) Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error) {
	o, ok, err := d.q.Lookup(ctx, systemID, messageID)
	if err != nil {
		return Outcome{}, false, fmt.Errorf("dlr: lookup %s: %w", messageID, err)
	}
	return o, ok, nil
}

// Accounts names the accounts the queue holds receipts or remembered
// outcomes of, configured or not (a reload may have removed an account
// whose receipts are still pending): where a message is looked up without
// its account. Nil when the queue cannot tell.
func (d *Dispatcher) Accounts(ctx context.Context) ([]string, error) {
	l, ok := d.q.(accountLister)
	if !ok {
		return nil, nil
	}
	accs, err := l.Accounts(ctx)
	if err != nil {
		return accs, fmt.Errorf("dlr: accounts: %w", err)
	}
	return accs, nil
}

// PendingCount returns the number of pending receipts of systemID as
// counted locally since the last sweep refreshed it from the queue: cheap
// enough to ask on every submit (the pending cap).
func (d *Dispatcher) PendingCount(_ context.Context, systemID string) (int, error) {
	return d.counts.get(systemID), nil
}

// Pending returns the number of receipts pending in the queue (for a
// shared queue: all instances'), asking the queue with OpTimeout; when the
// queue cannot answer, the last known count. Once the queue failed to
// answer, the last known count is returned at once and the queue asked
// again in the background, one call at a time, until it answers: the
// dlr_pending gauge runs in every scrape of /metrics, which would
// otherwise wait out OpTimeout each time while Redis is down.
func (d *Dispatcher) Pending() int {
	if d.pendingStale.Load() {
		if d.pendingAsking.CompareAndSwap(false, true) {
			go func() {
				defer d.pendingAsking.Store(false)
				ctx, cancel := context.WithTimeout(context.Background(), d.o.OpTimeout)
				defer cancel()
				d.pendingCount(ctx)
			}()
		}
		return int(d.pending.Load())
	}
	// A scrape waits a quarter of a second at most: a Redis that hangs
	// held the first scrape after it for the whole OpTimeout, longer than
	// scrapers often wait.
	ctx, cancel := context.WithTimeout(context.Background(), min(d.o.OpTimeout, pendingScrapeWait))
	defer cancel()
	return d.pendingCount(ctx)
}

// pendingScrapeWait bounds how long Pending waits for the queue.
const pendingScrapeWait = 250 * time.Millisecond

// LastPending estimates the pending receipts without asking the queue
// (the shutdown's report when Redis does not answer): the count the queue
// gave last, or the per-account counts, each the last read moved by this
// instance's puts and removals since, when those are more. The outage
// buffer's receipts are in the latter.
func (d *Dispatcher) LastPending() int { return max(int(d.pending.Load()), d.counts.total()) }

func (d *Dispatcher) pendingCount(ctx context.Context) int {
	n, err := d.q.Len(ctx)
	if err != nil {
		d.pendingStale.Store(true)
		d.countLog.Failed(ctx, "", err)
		return int(d.pending.Load())
	}
	d.countLog.Succeeded(ctx, "")
	d.pending.Store(int64(n))
	d.pendingStale.Store(false)
	return n
}

// Run runs the scheduling loops, one per shard. It returns nil when ctx is
// done or Drain has taken over.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.loop <- struct{}{}
	defer func() { <-d.loop }()
	// Drain's stop also ends a sweep under way: its queue calls (each up
	// to OpTimeout) would otherwise hold Drain, and the shutdown, while
	// Redis does not answer. Claims and acknowledgements keep their own
	// contexts (opCtx).
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-d.stop:
			cancel()
		case <-rctx.Done():
		}
	}()
	d.runShards(rctx, d.stop, time.Time{}, false)
	return nil
}

// Drain is the graceful shutdown: it stops Run (waiting for it to return),
// sends the receipts of bound accounts that are due now or fall due before
// ctx's deadline, waits for their responses and returns how many receipts
// are left pending in the queue. Every shard drains at the same time.
// Call it before the receiver binds are closed. Run returns at once after
// Drain.
func (d *Dispatcher) Drain(ctx context.Context) (pending int) {
	d.stopOnce.Do(func() { close(d.stop) })
	if !d.takeLoop(ctx) {
		// Run is still in a queue call (Redis not answering): nothing
		// can be drained before the deadline. The count is asked with
		// the spent ctx: a queue that needs the network gives the last
		// known count at once.
		return d.pendingCount(ctx)
	}
	defer func() { <-d.loop }()
	horizon := d.o.Clock.Now()
	if dl, ok := ctx.Deadline(); ok {
		horizon = horizon.Add(time.Until(dl))
	}
	d.runShards(ctx, nil, horizon, true) // every shard until it is done
	// The count outlives ctx only briefly: past the deadline the last
	// known count will do.
	wait := d.o.OpTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Until(dl), 100*time.Millisecond))
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	defer cancel()
	return d.pendingCount(cctx)
}

// takeLoop takes the loop token from a Run that stops, waiting no longer
// than ctx; a free token is taken even when ctx is done already.
func (d *Dispatcher) takeLoop(ctx context.Context) bool {
	select {
	case d.loop <- struct{}{}:
		return true
	default:
	}
	select {
	case d.loop <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// opCtx bounds one queue call of the loop. It survives ctx's cancellation
// so that acknowledgements of answered receipts still reach the queue.
// The memory queue never blocks and ignores its context: its calls get
// none, which spares a timer per claim and per batch of answers.
func (d *Dispatcher) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return d.callCtx(ctx, d.o.OpTimeout)
}

// callCtx is opCtx bounded by timeout instead of OpTimeout.
func (d *Dispatcher) callCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return d.boundCtx(context.WithoutCancel(ctx), timeout)
}

// sweepCtx bounds one queue call of the sweep by OpTimeout and by ctx
// (the memory queue's get none, as in opCtx).
func (d *Dispatcher) sweepCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return d.boundCtx(ctx, d.o.OpTimeout)
}

// boundCtx bounds ctx by timeout, except for the memory queue.
func (d *Dispatcher) boundCtx(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := d.q.(*MemoryQueue); ok {
		return context.Background(), func() {}
	}
	return context.WithTimeout(ctx, timeout)
}
