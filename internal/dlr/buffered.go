package dlr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// BufferedQueue defaults.
const (
	DefaultBufferSize = 100_000
	DefaultPutTimeout = 250 * time.Millisecond
	flushChunk        = 512
	flushBackoffMin   = 100 * time.Millisecond
	// flushBackoffMax bounds the wait between failed write-back passes,
	// and so how long after Redis (a promoted master, a shard back)
	// answers again the buffered receipts wait for the next pass. A pass
	// against a Redis that refuses connections costs a dial; one that
	// hangs, flushPassTimeout.
	flushBackoffMax  = 500 * time.Millisecond
	flushPassTimeout = 4 * time.Second
)

// BufferOptions tunes a BufferedQueue. The zero value gives the defaults.
type BufferOptions struct {
	// Size bounds the receipts held during an outage (default 100 000).
	Size int
	// PutTimeout is how long a Put waits for an inner queue that has no
	// PutAsync before it buffers the receipt instead (default 250 ms). An
	// AsyncQueue bounds its commits itself.
	PutTimeout time.Duration
	// Lost counts the receipts still buffered when Close gives up.
	Lost       *LossCounter
	Registerer prometheus.Registerer // nil: no metrics
	Logger     *slog.Logger          // nil: discard
	// OutOfMemory, when set, is called (it must not block) whenever
	// Redis refuses to store receipts for lack of memory (maxmemory with
	// noeviction), by a Put or a write-back pass: the application makes
	// the HLR cache give way (cache.Redis.GiveWay).
	OutOfMemory func()

	// Tests: manual runs no write-back goroutine (the test calls Flush);
	// passed, when set, hears about every background pass.
	manual bool
	passed func(n int, err error)
	now    func() time.Time // the flap log's clock; nil: time.Now
}

// BufferedQueue wraps a queue that can become unreachable, wholly or for
// some accounts (a RedisQueue on a Cluster with one shard down), so that
// the submit path keeps working through an outage. The state is kept per
// account: when an inner Put of an account fails (or, with
// REDIS_WAIT_REPLICAS, is not replicated in time), that account goes
// degraded and its receipts are appended to a bounded in-memory buffer;
// other accounts keep writing straight to the inner queue. A background
// goroutine (running only while something is buffered) writes the buffer
// back in batches, oldest first, with backoff between failed attempts, and
// the account is healthy again once its part is written. Nothing is lost
// below the bound; above it Put returns ErrBufferFull and the caller must
// not promise a receipt.
//
// A Put that failed may still have reached the inner queue, and the receipt
// may even have been delivered since: the write-back drops a receipt
// acknowledged through this queue meanwhile, skips one whose outcome the
// inner queue remembers as finished, and otherwise stores it again (a
// receipt the queue holds as pending stays as it is).
//
// Buffered receipts are not claimable until written; Lookup, Cancel,
// PendingCount and Len see them.
//
// Metrics: dlr_buffer_size (gauge), dlr_buffer_overflow_total (counter).
type BufferedQueue struct {
	inner      Queue
	async      AsyncQueue // inner, when it has PutAsync
	size       int
	putTimeout time.Duration
	log        *slog.Logger
	lost       *LossCounter
	overflow   prometheus.Counter

	outOfMemory func() // BufferOptions.OutOfMemory

	flushMu sync.Mutex // one write-back pass at a time

	mu        sync.Mutex
	accounts  map[string]*degraded // accounts whose receipts go to the buffer
	n         int                  // receipts buffered, all accounts
	nacked    int                  // of which finished by Ack, to be dropped (degraded.ids)
	nstored   int                  // of which unreplicated: in the queue too
	nrec      int                  // outcome records buffered, all accounts (bounded by size too)
	cancelled map[string]time.Time // taken out by Cancel while a pass may hold a copy: when (until that pass ends)
	flushing  bool                 // the write-back goroutine runs
	// again: ids Redis lost by going back whose copy was buffered already
	// (replay): a pass that held that copy and wrote it before Redis went
	// back keeps it for the next pass instead of dropping it as written.
	again  map[string]struct{}
	closed bool
	// counted: Close has counted what it left; a receipt buffered after
	// that would be lost uncounted, and is counted instead (replay).
	counted bool
	stop    chan struct{}
	manual  bool
	passed  func(int, error)
	flaps   logging.Flaps // an account degraded again soon after it recovered
}

// degraded is one account's part of the buffer.
type degraded struct {
	rs []Receipt
	// ids are rs's message ids and what each copy stands for (copyState).
	ids     map[string]copyState
	acked   int              // finished in ids
	stored  int              // unreplicated in ids
	recs    []bufferedRecord // outcomes of receipt-less messages (RecordAsync)
	since   time.Time
	lastErr error
	flushed int // receipts and records written back since it was degraded
	dropped int // receipts dropped instead, delivered meanwhile (finished)
}

// copyState is what a buffered receipt's copy stands for.
type copyState uint8

const (
	// onlyHere: as far as is known the queue does not hold the receipt;
	// this copy is the promise.
	onlyHere copyState = iota
	// unreplicated: Redis's master holds it but WAIT saw too few replicas
	// (REDIS_WAIT_REPLICAS): the copy is kept against a failover, and
	// counted once, in the queue.
	unreplicated
	// finished: acknowledged through this queue since; its put reached
	// the queue although it failed, and it was delivered. The write-back
	// drops it instead of storing it again, which, once the queue no
	// longer remembered it as finished, sent it twice.
	finished
)

// bufferedRecord is the outcome of an accepted message that asked for no
// receipt, waiting to be written like a receipt: a query_sm finds it
// meanwhile, and after the outage in Redis.
type bufferedRecord struct {
	o Outcome
	r Receipt
}

// empty reports whether nothing of the account waits any more.
func (a *degraded) empty() bool { return len(a.rs) == 0 && len(a.recs) == 0 }

var (
	_ AsyncQueue   = (*BufferedQueue)(nil)
	_ hookedPutter = (*BufferedQueue)(nil)
)

// NewBufferedQueue wraps inner.
func NewBufferedQueue(inner Queue, opts BufferOptions) *BufferedQueue {
	q := &BufferedQueue{
		inner: inner, size: opts.Size, putTimeout: opts.PutTimeout, log: opts.Logger, lost: opts.Lost,
		accounts: make(map[string]*degraded), stop: make(chan struct{}),
		manual: opts.manual, passed: opts.passed, outOfMemory: opts.OutOfMemory,
		flaps: logging.NewFlaps(opts.now),
	}
	q.async, _ = inner.(AsyncQueue)
	if q.size <= 0 {
		q.size = DefaultBufferSize
	}
	if r, ok := inner.(interface{ enableReplay(int, replayer) }); ok {
		r.enableReplay(q.size, q.replay) // its journal is bounded by the buffer's size
	}
	if q.putTimeout <= 0 {
		q.putTimeout = DefaultPutTimeout
	}
	if q.log == nil {
		q.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if reg := opts.Registerer; reg != nil {
		q.overflow = prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_buffer_overflow_total",
			Help: "Receipts refused because the receipt queue was unavailable and the outage buffer full.",
		})
		size := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dlr_buffer_size",
			Help: "Receipts held in memory while the receipt queue (Redis) is unavailable for their account.",
		}, func() float64 { return float64(q.Held()) })
		records := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dlr_buffer_records",
			Help: "Outcomes of accepted messages without a receipt (DLR_MODE=requested) held in memory while the receipt queue is unavailable for their account.",
		}, func() float64 { return float64(q.BufferedRecords()) })
		degradedN := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dlr_degraded_accounts",
			Help: "Accounts whose receipts are buffered in memory because their part of the receipt queue failed.",
		}, func() float64 { return float64(q.Degraded()) })
		for _, c := range []prometheus.Collector{q.overflow, size, records, degradedN} {
			if err := reg.Register(c); err != nil {
				q.log.Error("dlr.metric_not_registered", "err", err)
			}
		}
	}
	return q
}

// Buffered returns the number of receipts whose only copy is the
// buffer's: not those finished meanwhile (the next write-back pass drops
// them), nor those the queue holds unreplicated (see Held).
func (q *BufferedQueue) Buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bufferedLocked()
}

func (q *BufferedQueue) bufferedLocked() int { return q.n - q.nacked - q.nstored }

// Held returns the number of receipts the buffer holds and will write
// back: Buffered and the unreplicated copies (dlr_buffer_size).
func (q *BufferedQueue) Held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n - q.nacked
}

// setStateLocked moves id's copy in a to st, keeping the counts.
func (q *BufferedQueue) setStateLocked(a *degraded, id string, st copyState) {
	old, ok := a.ids[id]
	if !ok || old == st {
		return
	}
	q.countStateLocked(a, old, -1)
	q.countStateLocked(a, st, 1)
	a.ids[id] = st
}

func (q *BufferedQueue) countStateLocked(a *degraded, st copyState, d int) {
	switch st {
	case finished:
		a.acked += d
		q.nacked += d
	case unreplicated:
		a.stored += d
		q.nstored += d
	}
}

// forgetLocked drops id's copy state from a (the copy left the buffer).
func (q *BufferedQueue) forgetLocked(a *degraded, id string) {
	if st, ok := a.ids[id]; ok {
		q.countStateLocked(a, st, -1)
		delete(a.ids, id)
	}
	delete(q.again, id)
}

// BufferedRecords returns the number of outcome records waiting in the
// buffer.
func (q *BufferedQueue) BufferedRecords() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.nrec
}

// Degraded returns the number of accounts in the degraded state.
func (q *BufferedQueue) Degraded() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.accounts)
}

// Put stores r in the inner queue, or in the buffer while r's account is
// degraded or the inner Put fails.
func (q *BufferedQueue) Put(ctx context.Context, r Receipt) error {
	ch := make(chan error, 1)
	q.PutAsync(r, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("dlr: put: %w", ctx.Err())
	}
}

// PutAsync is Put calling done with the result instead of returning it.
func (q *BufferedQueue) PutAsync(r Receipt, done func(error)) {
	q.putHooked(r, putHooks{done: done})
}

// putHooked is PutAsync running h with the result. An inner queue that
// runs hooks itself (RedisQueue) is handed this buffer as the fallback,
// so a receipt costs no closure here.
func (q *BufferedQueue) putHooked(r Receipt, h putHooks) {
	if err := validate(r); err != nil {
		finishPut(h, r, err)
		return
	}
	q.mu.Lock()
	if _, bad := q.accounts[r.SystemID]; bad {
		err := q.bufferLocked(r, nil)
		q.mu.Unlock()
		finishPut(h, r, err)
		return
	}
	q.mu.Unlock()
	if hp, ok := q.inner.(hookedPutter); ok && h.fallback == nil {
		h.fallback = q
		hp.putHooked(r, h)
		return
	}
	q.putInner(r, h)
}

// putInner stores r in an inner queue that runs no hooks. Apart from
// putHooked, so that its closure does not move every receipt to the heap.
func (q *BufferedQueue) putInner(r Receipt, h putHooks) {
	if q.async != nil {
		q.async.PutAsync(r, func(err error) {
			if err != nil {
				err = q.fallback(r, err)
			}
			h.finish(&r, err)
		})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.putTimeout)
	err := q.inner.Put(ctx, r)
	cancel()
	if err != nil {
		err = q.fallback(r, err)
	}
	h.finish(&r, err)
}

// RecordAsync remembers o for r in the inner queue. While r's account is
// degraded (its part of Redis does not answer), or when the inner write
// fails, the record waits in the buffer like a receipt and is written
// back with them: a query_sm finds it meanwhile, and in Redis after the
// outage. The submit waiting for it is answered at once then, without
// waiting out a commit that would fail. Over the bound (as many records
// as DLR_BUFFER_SIZE) a record is refused, which costs only the answer to
// a later query_sm (nothing was promised).
func (q *BufferedQueue) RecordAsync(o Outcome, r Receipt, done func(error)) {
	if err := validate(r); err != nil {
		done(err)
		return
	}
	q.mu.Lock()
	if _, bad := q.accounts[r.SystemID]; bad {
		err := q.bufferRecordLocked(o, r, nil)
		q.mu.Unlock()
		done(err)
		return
	}
	q.mu.Unlock()
	if rec, ok := q.inner.(OutcomeRecorder); ok {
		rec.RecordAsync(o, r, func(err error) {
			if err != nil && !errors.Is(err, ErrRecordBacklog) {
				q.mu.Lock()
				err = q.bufferRecordLocked(o, r, err)
				q.mu.Unlock()
			}
			done(err)
		})
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), q.putTimeout)
	defer cancel()
	err := q.inner.Ack(ctx, o, r)
	if err != nil {
		q.mu.Lock()
		err = q.bufferRecordLocked(o, r, err)
		q.mu.Unlock()
	}
	done(err)
}

// bufferRecordLocked keeps a record for the write-back, making its
// account degraded as a failed receipt does.
func (q *BufferedQueue) bufferRecordLocked(o Outcome, r Receipt, cause error) error {
	if q.nrec >= q.size {
		return fmt.Errorf("%w (%d outcome records)", ErrBufferFull, q.size)
	}
	a := q.degradeLocked(r.SystemID, cause)
	a.recs = append(a.recs, bufferedRecord{o: o, r: r})
	q.nrec++
	q.startFlusherLocked()
	return nil
}

// errWentBack is the cause of an account degraded to put again receipts
// Redis lost by going back in time (replay.go).
var errWentBack = errors.New("dlr: Redis went back below receipts it had stored")

// replay buffers receipts of sys that Redis lost by going back in time,
// for the write-back to store again (unless Redis remembers them
// finished). Those beyond the buffer's bound are refused, counted in
// dlr_buffer_overflow_total and logged in one line.
func (q *BufferedQueue) replay(sys string, rs []Receipt) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.counted {
		// Close has written back what it could and counted the rest: so
		// are these, which no pass will write.
		q.lost.add(LostShutdown, len(rs))
		q.log.Error("dlr.replay_refused", "system_id", sys, "receipts", len(rs),
			"err", "the queue is closed: these receipts Redis lost by going back are not put again (counted in dlr_lost_total{cause=\"shutdown\"})")
		return
	}
	refused := 0
	for _, r := range rs {
		if q.n >= q.size {
			refused++
			continue
		}
		if a := q.accounts[sys]; a != nil {
			if _, held := a.ids[r.MessageID]; held {
				// A copy is buffered already; a pass may be writing it
				// and would drop it as written.
				if q.again == nil {
					q.again = make(map[string]struct{})
				}
				q.again[r.MessageID] = struct{}{}
				q.setStateLocked(a, r.MessageID, onlyHere)
				continue
			}
		}
		_ = q.bufferLocked(r, errWentBack)
	}
	if refused > 0 {
		if q.overflow != nil {
			q.overflow.Add(float64(refused))
		}
		q.log.Error("dlr.replay_refused", "system_id", sys, "receipts", refused, "size", q.size,
			"err", "the outage buffer is full: these receipts Redis lost by going back are not put again")
	}
}

// fallback buffers r after its inner Put failed with cause.
func (q *BufferedQueue) fallback(r Receipt, cause error) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bufferLocked(r, cause)
}

// bufferLocked appends r to its account's buffer, making the account
// degraded, and makes sure the write-back goroutine runs.
func (q *BufferedQueue) bufferLocked(r Receipt, cause error) error {
	q.noteOutOfMemory(cause)
	a := q.degradeLocked(r.SystemID, cause)
	if q.n >= q.size {
		if q.overflow != nil {
			q.overflow.Inc()
		}
		q.log.Error("dlr.outage_buffer_full_receipt_refused", "message_id", r.MessageID, "system_id", r.SystemID, "size", q.size)
		q.startFlusherLocked()
		return fmt.Errorf("%w (%d receipts): %v", ErrBufferFull, q.size, a.lastErr)
	}
	a.rs = append(a.rs, r)
	if a.ids == nil {
		a.ids = make(map[string]copyState)
	}
	q.forgetLocked(a, r.MessageID) // buffered again: its counts start over
	a.ids[r.MessageID] = onlyHere
	if errors.Is(cause, ErrNotReplicated) {
		q.setStateLocked(a, r.MessageID, unreplicated)
	}
	q.n++
	q.startFlusherLocked()
	return nil
}

// degradeLocked returns sys's part of the buffer, making the account
// degraded if it was not.
func (q *BufferedQueue) degradeLocked(sys string, cause error) *degraded {
	a := q.accounts[sys]
	if a == nil {
		a = &degraded{since: q.flaps.Now(), lastErr: cause}
		q.accounts[sys] = a
		if repeated, ok := q.flaps.Degraded(sys); ok {
			q.log.Error("dlr.account_degraded_buffering_receipts_in_memory", "system_id", sys, "err", fmt.Sprint(cause), "size", q.size,
				"repeated", repeated)
		} else {
			q.log.Debug("dlr.account_degraded_buffering_receipts_in_memory", "system_id", sys, "err", fmt.Sprint(cause), "size", q.size)
		}
	} else if cause != nil {
		a.lastErr = cause
	}
	return a
}

// logLastingLocked logs at ERROR the degradation of an account that was
// logged at DEBUG (a flap soon after another) and has lasted logging.FlapWindow
// since: an outage that starts as a flap is still an outage. Each pass of
// the write-back runs it.
func (q *BufferedQueue) logLastingLocked() {
	for sys, a := range q.accounts {
		if repeated, ok := q.flaps.Lasting(sys, a.since); ok {
			q.log.Error("dlr.account_degraded_buffering_receipts_in_memory", "system_id", sys, "err", fmt.Sprint(a.lastErr), "size", q.size,
				"repeated", repeated, "degraded_for", time.Since(a.since).String())
		}
	}
}

func (q *BufferedQueue) startFlusherLocked() {
	if q.flushing || q.closed || q.manual {
		return
	}
	q.flushing = true
	go q.flushLoop()
}

// flushLoop writes the buffer back until it is empty, backing off after
// failed passes. It never runs inside the dispatcher's loop.
func (q *BufferedQueue) flushLoop() {
	wait := flushBackoffMin
	for {
		ctx, cancel := context.WithTimeout(context.Background(), flushPassTimeout)
		n, moved, err := q.flush(ctx)
		cancel()
		if q.passed != nil {
			q.passed(n, err)
		}
		q.mu.Lock()
		if len(q.accounts) == 0 || q.closed {
			q.flushing = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		if err == nil || n > 0 || moved > 0 {
			wait = flushBackoffMin
			if err == nil {
				continue
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-q.stop:
			t.Stop()
			q.mu.Lock()
			q.flushing = false
			q.mu.Unlock()
			return
		}
		wait = min(2*wait, flushBackoffMax)
	}
}

// Flush makes one write-back pass: per degraded account, up to flushChunk
// receipts only the buffer holds, as many unreplicated copies
// (degraded.pick) and as many outcome records, in one batch each. An
// account whose buffer empties without error is healthy again. It
// returns how many receipts and records were written (or found finished)
// and the failures joined.
func (q *BufferedQueue) Flush(ctx context.Context) (int, error) {
	n, _, err := q.flush(ctx)
	return n, err
}

// flush is Flush also returning how many receipts whose only copy was the
// buffer's the pass stored in Redis's master without the replicas
// REDIS_WAIT_REPLICAS asks for (moved): not written back yet, but
// claimable and on their way, which is progress for the write-back's
// backoff.
func (q *BufferedQueue) flush(ctx context.Context) (int, int, error) {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	q.logLastingLocked()
	var chunk []Receipt
	var recs []bufferedRecord
	var done []string // finished while buffered: dropped, not written
	for _, a := range q.accounts {
		chunk, done = a.pick(chunk, done)
		recs = append(recs, a.recs[:min(len(a.recs), flushChunk)]...)
	}
	empty := make([]string, 0)
	for sys, a := range q.accounts {
		if a.empty() {
			empty = append(empty, sys)
		}
	}
	for _, sys := range empty { // degraded by a refused Put only
		q.healthyLocked(sys)
	}
	q.mu.Unlock()
	if len(chunk) == 0 && len(recs) == 0 && len(done) == 0 {
		return 0, 0, nil
	}
	var errs []error
	if len(chunk) > 0 {
		errs = q.restore(ctx, chunk)
	}
	recErrs := q.writeRecords(ctx, recs)
	q.mu.Lock()
	defer q.mu.Unlock()
	written := make(map[string]struct{}, len(chunk)+len(recs)+len(done))
	for _, id := range done {
		written[id] = struct{}{}
	}
	failed := make(map[string]error)
	// Written but not replicated: they go to the back of their account's
	// buffer, so that the next pass's chunk reaches the receipts behind
	// them (while replicas are short, they would fail at its head again
	// and again).
	var behind map[string]struct{}
	// Skipped by the inner queue as finished: delivered meanwhile.
	var finishedThere map[string]struct{}
	moved := 0
	for i, r := range chunk {
		if errors.Is(errs[i], errFinishedInQueue) {
			if finishedThere == nil {
				finishedThere = make(map[string]struct{})
			}
			finishedThere[r.MessageID] = struct{}{}
			written[r.MessageID] = struct{}{}
			continue
		}
		if errs[i] != nil && !errors.Is(errs[i], errCancelledInBuffer) {
			failed[r.SystemID] = errs[i]
			if a := q.accounts[r.SystemID]; a != nil && errors.Is(errs[i], ErrNotReplicated) {
				if a.ids[r.MessageID] == onlyHere {
					q.setStateLocked(a, r.MessageID, unreplicated) // written, not replicated
					moved++
				}
				if behind == nil {
					behind = make(map[string]struct{})
				}
				behind[r.MessageID] = struct{}{}
			}
			continue
		}
		written[r.MessageID] = struct{}{}
	}
	for i, rec := range recs {
		if recErrs[i] != nil {
			failed[rec.r.SystemID] = recErrs[i]
			continue
		}
		written[rec.r.MessageID] = struct{}{}
	}
	late := q.cancelledWrittenLocked(chunk, errs)
	n, nrec := 0, 0
	for sys, a := range q.accounts {
		before := n + nrec
		dropped := 0
		keep := a.rs[:0]
		var back []Receipt
		for _, r := range a.rs {
			if _, ok := q.again[r.MessageID]; ok {
				// Redis lost it again since this pass wrote it: written
				// again by the next pass.
				delete(q.again, r.MessageID)
				keep = append(keep, r)
				continue
			}
			if _, ok := written[r.MessageID]; ok {
				n++
				if _, there := finishedThere[r.MessageID]; there || a.ids[r.MessageID] == finished {
					dropped++
				}
				delete(q.cancelled, r.MessageID)
				q.forgetLocked(a, r.MessageID)
				continue
			}
			if _, ok := behind[r.MessageID]; ok {
				back = append(back, r)
				continue
			}
			keep = append(keep, r)
		}
		keep = append(keep, back...)
		clear(a.rs[len(keep):])
		a.rs = keep
		keepRecs := a.recs[:0]
		for _, rec := range a.recs {
			if _, ok := written[rec.r.MessageID]; ok {
				nrec++
				continue
			}
			keepRecs = append(keepRecs, rec)
		}
		clear(a.recs[len(keepRecs):])
		a.recs = keepRecs
		a.flushed += n + nrec - before - dropped
		a.dropped += dropped
		if err, bad := failed[sys]; bad {
			q.noteOutOfMemory(err)
			a.lastErr = err
		} else if a.empty() {
			q.healthyLocked(sys)
		}
	}
	q.n -= n
	q.nrec -= nrec
	// A cancel is looked up only by the pass under way when it came (the
	// copy left the buffer, so no later pass takes it): this one has used
	// them all. Kept longer, a long outage with many cancels would grow
	// the map without a bound.
	q.cancelled = nil
	if q.n == 0 {
		q.again = nil
	}
	var all []error
	for sys, err := range failed {
		all = append(all, fmt.Errorf("%s: %w", sys, err))
	}
	if len(late) > 0 {
		q.mu.Unlock()
		q.cancelInner(ctx, late)
		q.mu.Lock()
	}
	if len(all) > 0 {
		return n + nrec, moved, fmt.Errorf("dlr: flush: %w", errors.Join(all...))
	}
	return n + nrec, moved, nil
}

// pick appends a's part of a write-back pass to chunk: up to flushChunk
// receipts whose only copy is the buffer's (onlyHere), oldest first, and
// up to flushChunk copies Redis's master holds unreplicated
// (REDIS_WAIT_REPLICAS). The pass writes the copies again in case a
// failover lost them, and finds those delivered meanwhile (by another
// instance too), which then leave the buffer. The ones finished here go
// to done. While the replicas are short every pass fails its copies
// again: taken in buffer order, the receipts buffered since waited behind
// every copy, some seconds per flushChunk of them, and were neither in
// Redis nor sent. Each receipt written becomes a copy, so the copies a
// pass checks must keep up with the new ones: given only what new
// receipts left of a chunk, they did not under a steady load, and the
// copies of delivered receipts filled the buffer.
func (a *degraded) pick(chunk []Receipt, done []string) ([]Receipt, []string) {
	// Hints, so that the scan (under q.mu) stops once both kinds are
	// taken or all of a kind was met, and every finished one was: without
	// copies (a plain outage) it reads one chunk, not the whole buffer.
	fresh, unrep, fin := len(a.rs)-a.stored-a.acked, a.stored, a.acked
	picked := 0
	var copies []Receipt
	for _, r := range a.rs {
		if (picked == flushChunk || fresh <= 0) && (len(copies) == flushChunk || unrep <= 0) && fin <= 0 {
			break
		}
		switch a.ids[r.MessageID] {
		case finished:
			done = append(done, r.MessageID)
			fin--
		case unreplicated:
			if len(copies) < flushChunk {
				copies = append(copies, r)
			}
			unrep--
		default:
			if picked < flushChunk {
				chunk = append(chunk, r)
				picked++
			}
			fresh--
		}
	}
	return append(chunk, copies...), done
}

// writeRecords writes buffered outcome records to the inner queue, with
// one group commit when it has one; one error per record.
func (q *BufferedQueue) writeRecords(ctx context.Context, recs []bufferedRecord) []error {
	errs := make([]error, len(recs))
	rec, ok := q.inner.(OutcomeRecorder)
	if !ok {
		for i, b := range recs {
			errs[i] = q.inner.Ack(ctx, b.o, b.r)
		}
		return errs
	}
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(recs)) // room for every answer: a late one never blocks
	for i, b := range recs {
		rec.RecordAsync(b.o, b.r, func(err error) { results <- result{i, err} })
	}
	answered := make([]bool, len(recs))
	for range recs {
		select {
		case r := <-results:
			errs[r.i], answered[r.i] = r.err, true
		case <-ctx.Done():
			// A shutdown's deadline ends the wait: what is not answered
			// stays in the buffer (a record written twice is the same
			// record).
			for i := range errs {
				if !answered[i] {
					errs[i] = ctx.Err()
				}
			}
			return errs
		}
	}
	return errs
}

// cancelledWrittenLocked lists the receipts of chunk that this pass wrote
// to the inner queue although Cancel took them out of the buffer while the
// pass ran (after restore had checked): they must be cancelled there too,
// or a cancelled message would still get its receipt.
func (q *BufferedQueue) cancelledWrittenLocked(chunk []Receipt, errs []error) []cancelReq {
	var late []cancelReq
	for i, r := range chunk {
		// Not replicated: the master holds it all the same.
		if at, c := q.cancelled[r.MessageID]; c && (errs[i] == nil || errors.Is(errs[i], ErrNotReplicated)) {
			late = append(late, cancelReq{sys: r.SystemID, id: r.MessageID, at: at})
		}
	}
	return late
}

type cancelReq struct {
	sys, id string
	at      time.Time
}

// cancelInner cancels in the inner queue what a pass wrote after it was
// cancelled. A failure is logged: the receipt may then still be sent.
func (q *BufferedQueue) cancelInner(ctx context.Context, late []cancelReq) {
	for _, c := range late {
		if _, err := q.inner.Cancel(ctx, c.sys, c.id, c.at); err != nil {
			q.log.Error("dlr.cancel_not_applied", "system_id", c.sys, "message_id", c.id, "err", err.Error(),
				"detail", "cancel_sm raced the outage buffer's write-back and the receipt could not be removed from the queue: it may still be sent")
		}
	}
}

// healthyLocked ends sys's degraded state, logging what its part of the
// buffer wrote back over the outage.
func (q *BufferedQueue) healthyLocked(sys string) {
	a := q.accounts[sys]
	delete(q.accounts, sys)
	level := slog.LevelInfo
	if !q.flaps.Recovered(sys) {
		level = slog.LevelDebug // its degradation was not logged either
	}
	q.log.Log(context.Background(), level, "dlr.account_available_again", "system_id", sys, "degraded_for", time.Since(a.since).String(),
		"flushed", a.flushed, "delivered_meanwhile", a.dropped)
}

// restorer is implemented by queues that can take a batch back from the
// buffer themselves (RedisQueue: one script per account, skipping finished
// receipts atomically).
type restorer interface {
	Restore(ctx context.Context, rs []Receipt) []error
}

// errFinishedInQueue marks a receipt restore skipped because the inner
// queue remembers its outcome: delivered meanwhile (a put that timed out
// had reached Redis, perhaps another instance sent it), not failed.
var errFinishedInQueue = errors.New("dlr: finished in the queue meanwhile")

// errCancelledInBuffer marks a receipt restore skipped because Cancel took
// it out of the buffer before the pass wrote it: done, not failed.
var errCancelledInBuffer = errors.New("dlr: cancelled while buffered")

// restore writes buffered receipts unless cancelled meanwhile or finished
// in the inner queue; one error per receipt (errCancelledInBuffer and
// errFinishedInQueue for those it skipped).
func (q *BufferedQueue) restore(ctx context.Context, rs []Receipt) []error {
	q.mu.Lock()
	todo := make([]Receipt, 0, len(rs))
	idx := make([]int, 0, len(rs))
	errs := make([]error, len(rs))
	for i, r := range rs {
		if _, c := q.cancelled[r.MessageID]; c {
			errs[i] = errCancelledInBuffer
			continue
		}
		todo = append(todo, r)
		idx = append(idx, i)
	}
	q.mu.Unlock()
	var got []error
	if rq, ok := q.inner.(restorer); ok {
		got = rq.Restore(ctx, todo)
	} else {
		got = make([]error, len(todo))
		for i, r := range todo {
			got[i] = q.restoreOne(ctx, r)
		}
	}
	for i, e := range got {
		errs[idx[i]] = e
	}
	return errs
}

func (q *BufferedQueue) restoreOne(ctx context.Context, r Receipt) error {
	o, known, err := q.inner.Lookup(ctx, r.SystemID, r.MessageID)
	if err != nil {
		return err
	}
	if known && o.State != pdu.StateEnroute {
		return errFinishedInQueue
	}
	if known {
		return nil // pending already
	}
	return q.inner.Put(ctx, r)
}

// Close stops the write-back goroutine and makes write-back passes until
// the buffer is empty or ctx ends. It returns how many receipts it could
// not store; they are counted in dlr_lost_total{cause="shutdown"} and
// logged with their exact number. Losses of Redis data the inner queue
// found and has not reported yet are reported then (losssettle.go).
func (q *BufferedQueue) Close(ctx context.Context) int {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.stop)
	}
	q.mu.Unlock()
	wait := flushBackoffMin
	for (q.Buffered() > 0 || q.BufferedRecords() > 0) && ctx.Err() == nil {
		if _, err := q.Flush(ctx); err == nil {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		wait = min(2*wait, flushBackoffMax)
	}
	if recs := q.BufferedRecords(); recs > 0 {
		// Not receipts: nothing was promised, and dlr_lost_total does
		// not count them; query_sm will not find these messages.
		q.log.Warn("dlr.shutdown_records_not_stored", "records", recs,
			"detail", "the receipt queue stayed unavailable until the shutdown deadline: query_sm will not find these receipt-less messages")
	}
	if r, ok := q.inner.(unsettledReporter); ok {
		r.ReportUnsettledLosses(ctx)
	}
	q.mu.Lock()
	left := q.bufferedLocked()
	q.counted = true
	q.mu.Unlock()
	if left > 0 {
		q.lost.add(LostShutdown, left)
		q.log.Error("dlr.shutdown_receipts_not_stored", "receipts", left, "degraded_accounts", q.Degraded(),
			"detail", "the receipt queue stayed unavailable until the shutdown deadline: these promised receipts are lost")
	}
	return left
}

// Healthy reports ErrDegraded while an account is degraded, else the inner
// queue's own health when it has a check.
func (q *BufferedQueue) Healthy(ctx context.Context) error {
	q.mu.Lock()
	n, accts := q.n, len(q.accounts)
	var lastErr error
	for _, a := range q.accounts {
		if a.lastErr != nil {
			lastErr = a.lastErr
			break
		}
	}
	q.mu.Unlock()
	if accts > 0 {
		return fmt.Errorf("%w: %d accounts, %d receipts buffered: %v", ErrDegraded, accts, n, lastErr)
	}
	if h, ok := q.inner.(interface{ Healthy(context.Context) error }); ok {
		return h.Healthy(ctx)
	}
	return nil
}

// Claim claims from the inner queue.
func (q *BufferedQueue) Claim(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	return q.inner.Claim(ctx, systemID, now, lease, max)
}

// ClaimNext claims from the inner queue and tells its next due time.
func (q *BufferedQueue) ClaimNext(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, time.Time, bool, error) {
	return claimNext(ctx, q.inner, systemID, now, lease, max)
}

// Maintain passes the dispatcher's upkeep to the inner queue.
func (q *BufferedQueue) Maintain(ctx context.Context) error {
	if m, ok := q.inner.(Maintainer); ok {
		return m.Maintain(ctx)
	}
	return nil
}

// SettleLosses passes the settling of losses to the inner queue.
func (q *BufferedQueue) SettleLosses(ctx context.Context) error {
	if s, ok := q.inner.(LossSettler); ok {
		return s.SettleLosses(ctx)
	}
	return nil
}

// Ack acknowledges in the inner queue, and marks a buffered copy of a
// receipt it finished so that the write-back drops it (see degraded.ids).
func (q *BufferedQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	if err := q.inner.Ack(ctx, o, rs...); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == 0 {
		return nil
	}
	for i := range rs {
		a := q.accounts[rs[i].SystemID]
		if a == nil {
			continue
		}
		q.setStateLocked(a, rs[i].MessageID, finished)
	}
	return nil
}

// Retry retries in the inner queue.
func (q *BufferedQueue) Retry(ctx context.Context, r Receipt, at time.Time) error {
	return q.inner.Retry(ctx, r, at)
}

// Cancel removes a buffered receipt, or cancels in the inner queue. A
// copy the inner queue holds too (unreplicated: Redis's master stored it)
// is cancelled there first, and removed here only when that succeeded: it
// may be being sent from the queue.
func (q *BufferedQueue) Cancel(ctx context.Context, systemID, messageID string, at time.Time) (bool, error) {
	q.mu.Lock()
	if a := q.accounts[systemID]; a != nil && a.ids[messageID] == unreplicated {
		q.mu.Unlock()
		ok, err := q.inner.Cancel(ctx, systemID, messageID, at)
		if !ok || err != nil {
			return ok, err
		}
		q.mu.Lock()
		q.dropCancelledLocked(systemID, messageID, at)
		q.mu.Unlock()
		return true, nil
	}
	if q.dropCancelledLocked(systemID, messageID, at) {
		q.mu.Unlock()
		return true, nil
	}
	q.mu.Unlock()
	return q.inner.Cancel(ctx, systemID, messageID, at)
}

// dropCancelledLocked removes the buffered copy of messageID of sys
// unless it was finished, and remembers it cancelled at at, so that a
// write-back pass holding it cancels what it writes
// (cancelledWrittenLocked). It reports whether there was such a copy.
func (q *BufferedQueue) dropCancelledLocked(sys, messageID string, at time.Time) bool {
	a := q.accounts[sys]
	if a == nil {
		return false
	}
	for i, r := range a.rs {
		if r.MessageID == messageID && a.ids[messageID] != finished {
			a.rs = append(a.rs[:i], a.rs[i+1:]...)
			q.forgetLocked(a, messageID)
			q.n--
			if q.cancelled == nil {
				q.cancelled = make(map[string]time.Time)
			}
			q.cancelled[messageID] = at
			return true
		}
	}
	return false
}

// Lookup reports a buffered receipt as pending and a buffered record as
// its outcome, or asks the inner queue. A copy the inner queue holds too
// (unreplicated) is asked there first: another instance may have
// delivered it from there.
func (q *BufferedQueue) Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error) {
	q.mu.Lock()
	if a := q.accounts[systemID]; a != nil {
		for _, r := range a.rs {
			if r.MessageID == messageID && a.ids[messageID] != finished {
				st := a.ids[messageID]
				q.mu.Unlock()
				if st == unreplicated {
					if o, ok, err := q.inner.Lookup(ctx, systemID, messageID); err == nil && ok {
						return o, true, nil
					}
				}
				return Outcome{State: pdu.StateEnroute, SystemID: r.SystemID, Destination: r.Dest.Addr, SubmittedAt: r.SubmittedAt, Source: r.Source.Addr}, true, nil
			}
		}
		for _, rec := range a.recs {
			if rec.r.MessageID == messageID {
				q.mu.Unlock()
				return rec.o, true, nil
			}
		}
	}
	q.mu.Unlock()
	return q.inner.Lookup(ctx, systemID, messageID)
}

// Accounts adds the accounts with buffered receipts or outcomes to the
// inner queue's (those are named even when the inner queue cannot be
// asked, with its error).
func (q *BufferedQueue) Accounts(ctx context.Context) ([]string, error) {
	var accs []string
	var err error
	if l, ok := q.inner.(accountLister); ok {
		accs, err = l.Accounts(ctx)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for sys := range q.accounts {
		if !slices.Contains(accs, sys) {
			accs = append(accs, sys)
		}
	}
	return accs, err
}

// PendingCount adds the account's buffered receipts to the inner count.
func (q *BufferedQueue) PendingCount(ctx context.Context, systemID string) (int, error) {
	q.mu.Lock()
	b := 0
	if a := q.accounts[systemID]; a != nil {
		b = len(a.rs) - a.acked - a.stored // the unreplicated ones are counted by the queue
	}
	q.mu.Unlock()
	n, err := q.inner.PendingCount(ctx, systemID)
	if err != nil {
		return b, fmt.Errorf("dlr: pending count: %w", err)
	}
	return n + b, nil
}

// PendingCounts adds each account's buffered receipts to the inner counts.
func (q *BufferedQueue) PendingCounts(ctx context.Context, systems []string) ([]int, error) {
	pc, ok := q.inner.(pendingCounter)
	if !ok {
		return pendingCountsOneByOne(ctx, q, systems)
	}
	out, err := pc.PendingCounts(ctx, systems)
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, sys := range systems {
		if a := q.accounts[sys]; a != nil && out[i] >= 0 {
			out[i] += len(a.rs) - a.acked - a.stored
		}
	}
	return out, err
}

// NextDue asks the inner queue.
func (q *BufferedQueue) NextDue(ctx context.Context, systemID string) (time.Time, bool, error) {
	return q.inner.NextDue(ctx, systemID)
}

// Expire expires in the inner queue; buffered receipts expire once written.
func (q *BufferedQueue) Expire(ctx context.Context, now time.Time, max int) ([]Receipt, error) {
	return q.inner.Expire(ctx, now, max)
}

// Len counts the inner queue's receipts and the buffered ones.
func (q *BufferedQueue) Len(ctx context.Context) (int, error) {
	n, err := q.inner.Len(ctx)
	b := q.Buffered()
	if err != nil {
		return b, fmt.Errorf("dlr: len: %w", err)
	}
	return n + b, nil
}

// noteOutOfMemory calls the OutOfMemory hook when err is Redis refusing a
// write for lack of memory.
func (q *BufferedQueue) noteOutOfMemory(err error) {
	if q.outOfMemory != nil && outOfMemory(err) {
		q.outOfMemory()
	}
}

// outOfMemory reports whether err carries Redis's OOM refusal (also
// inside a transaction's EXECABORT or a joined error of several
// commands).
func outOfMemory(err error) bool {
	return err != nil && strings.Contains(err.Error(), "OOM ")
}
