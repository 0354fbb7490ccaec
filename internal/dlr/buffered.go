package dlr

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// BufferedQueue defaults.
const (
	DefaultBufferSize = 100_000
	DefaultPutTimeout = 250 * time.Millisecond
	flushChunk        = 256
)

// BufferOptions tunes a BufferedQueue. The zero value gives the defaults.
type BufferOptions struct {
	// Size bounds the receipts held during an outage (default 100 000).
	Size int
	// PutTimeout is how long Put waits for the inner queue before it
	// buffers the receipt instead (default 250 ms).
	PutTimeout time.Duration
	Registerer prometheus.Registerer // nil: no metrics
	Logger     *slog.Logger          // nil: discard
}

// BufferedQueue wraps a queue that can become unreachable (RedisQueue) so
// that the submit path keeps working through an outage. When the inner Put
// fails or takes longer than PutTimeout, the queue goes degraded: Put then
// appends receipts to a bounded in-memory buffer without touching the inner
// queue, and Flush (the dispatcher calls it on every sweep) writes them,
// oldest first, once the inner queue answers again. Nothing is lost below
// the bound; above it Put returns ErrBufferFull and the caller must not
// promise a receipt (answer the submit_sm with ESME_RSYSERR).
//
// Buffered receipts are not claimable until written; Lookup, Cancel and Len
// see them. A Put that timed out may still have reached the inner queue
// (and the receipt may even have been delivered since): Flush writes a
// receipt only when the inner queue does not know its id, so it never
// brings back one that was delivered, expired or cancelled.
//
// Metrics: dlr_buffer_size (gauge), dlr_buffer_overflow_total (counter).
type BufferedQueue struct {
	inner      Queue
	size       int
	putTimeout time.Duration
	log        *slog.Logger
	overflow   prometheus.Counter

	flushMu sync.Mutex

	mu        sync.Mutex
	buf       []Receipt
	cancelled map[string]struct{} // taken out of buf by Cancel while a Flush may hold a copy
	down      bool
	lastErr   error
}

var (
	_ Queue   = (*BufferedQueue)(nil)
	_ Flusher = (*BufferedQueue)(nil)
)

// NewBufferedQueue wraps inner.
func NewBufferedQueue(inner Queue, opts BufferOptions) *BufferedQueue {
	q := &BufferedQueue{inner: inner, size: opts.Size, putTimeout: opts.PutTimeout, log: opts.Logger}
	if q.size <= 0 {
		q.size = DefaultBufferSize
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
			Help: "Receipts held in memory while the receipt queue (Redis) is unavailable.",
		}, func() float64 { return float64(q.Buffered()) })
		for _, c := range []prometheus.Collector{q.overflow, size} {
			if err := reg.Register(c); err != nil {
				q.log.Error("dlr.metric_not_registered", "err", err)
			}
		}
	}
	return q
}

// Buffered returns the number of receipts waiting in the buffer.
func (q *BufferedQueue) Buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

// Put stores r in the inner queue, or in the buffer while it is
// unavailable.
func (q *BufferedQueue) Put(ctx context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	q.mu.Lock()
	down := q.down
	q.mu.Unlock()
	if !down {
		pctx, cancel := context.WithTimeout(ctx, q.putTimeout)
		err := q.inner.Put(pctx, r)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil { // the caller gave up: it will not promise a receipt
			return err
		}
		q.setDown(err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) >= q.size {
		if q.overflow != nil {
			q.overflow.Inc()
		}
		q.log.Error("dlr.outage_buffer_full_receipt_refused", "message_id", r.MessageID, "system_id", r.SystemID, "size", q.size)
		return fmt.Errorf("%w (%d receipts): %w", ErrBufferFull, q.size, q.lastErr)
	}
	q.buf = append(q.buf, r)
	return nil
}

func (q *BufferedQueue) setDown(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.down {
		q.log.Error("dlr.queue_unavailable_buffering_receipts_in_memory", "err", err, "size", q.size)
	}
	q.down, q.lastErr = true, err
}

// Flush writes buffered receipts to the inner queue, oldest first, and
// returns how many it wrote. It stops at the first failure. When the
// buffer is empty it probes the inner queue (Healthy, if it has one) and
// leaves the degraded state.
func (q *BufferedQueue) Flush(ctx context.Context) (int, error) {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	written := 0
	for {
		q.mu.Lock()
		chunk := append([]Receipt(nil), q.buf[:min(len(q.buf), flushChunk)]...)
		down := q.down
		q.mu.Unlock()
		if len(chunk) == 0 {
			q.mu.Lock()
			if len(q.buf) == 0 {
				q.cancelled = nil // every copy a Flush could hold is gone
			}
			q.mu.Unlock()
			if down {
				if h, ok := q.inner.(interface{ Healthy(context.Context) error }); ok {
					if err := h.Healthy(ctx); err != nil {
						return written, err
					}
				}
				q.mu.Lock()
				q.down, q.lastErr = false, nil
				q.mu.Unlock()
				q.log.Info("dlr.queue_available_again", "flushed", written)
			}
			return written, nil
		}
		done := make(map[string]struct{}, len(chunk))
		var err error
		for _, r := range chunk {
			if err = q.restore(ctx, r); err != nil {
				break
			}
			done[r.MessageID] = struct{}{}
		}
		q.mu.Lock()
		for id := range done {
			delete(q.cancelled, id)
		}
		keep := q.buf[:0]
		for _, r := range q.buf {
			if _, ok := done[r.MessageID]; !ok {
				keep = append(keep, r)
			}
		}
		clear(q.buf[len(keep):])
		q.buf = keep
		q.mu.Unlock()
		written += len(done)
		if err != nil {
			q.setDown(err)
			return written, fmt.Errorf("dlr: flush: %w", err)
		}
	}
}

// restore writes a buffered receipt unless it was cancelled meanwhile or
// the inner queue already knows it: a timed-out Put that did reach it,
// perhaps delivered and acknowledged since, must not come back as pending.
func (q *BufferedQueue) restore(ctx context.Context, r Receipt) error {
	q.mu.Lock()
	_, cancelled := q.cancelled[r.MessageID]
	q.mu.Unlock()
	if cancelled {
		return nil
	}
	if _, known, err := q.inner.Lookup(ctx, r.SystemID, r.MessageID); err != nil || known {
		return err
	}
	return q.inner.Put(ctx, r)
}

// Healthy reports ErrDegraded while receipts are buffered or the inner
// queue failed, else the inner queue's own health when it has a check.
func (q *BufferedQueue) Healthy(ctx context.Context) error {
	q.mu.Lock()
	n, down, lastErr := len(q.buf), q.down, q.lastErr
	q.mu.Unlock()
	if down || n > 0 {
		return fmt.Errorf("%w: %d receipts buffered: %v", ErrDegraded, n, lastErr)
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

// Ack acknowledges in the inner queue.
func (q *BufferedQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	return q.inner.Ack(ctx, o, rs...)
}

// Retry retries in the inner queue.
func (q *BufferedQueue) Retry(ctx context.Context, r Receipt, at time.Time) error {
	return q.inner.Retry(ctx, r, at)
}

// Cancel removes a buffered receipt, or cancels in the inner queue.
func (q *BufferedQueue) Cancel(ctx context.Context, systemID, messageID string, at time.Time) (bool, error) {
	q.mu.Lock()
	for i, r := range q.buf {
		if r.MessageID == messageID && r.SystemID == systemID {
			q.buf = append(q.buf[:i], q.buf[i+1:]...)
			if q.cancelled == nil {
				q.cancelled = make(map[string]struct{})
			}
			q.cancelled[messageID] = struct{}{}
			q.mu.Unlock()
			return true, nil
		}
	}
	q.mu.Unlock()
	return q.inner.Cancel(ctx, systemID, messageID, at)
}

// Lookup reports a buffered receipt as pending, or asks the inner queue.
func (q *BufferedQueue) Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error) {
	q.mu.Lock()
	for _, r := range q.buf {
		if r.MessageID == messageID && r.SystemID == systemID {
			q.mu.Unlock()
			return Outcome{State: pdu.StateEnroute, SystemID: r.SystemID, Destination: r.Dest.Addr, SubmittedAt: r.SubmittedAt}, true, nil
		}
	}
	q.mu.Unlock()
	return q.inner.Lookup(ctx, systemID, messageID)
}

// PendingCount adds the account's buffered receipts to the inner count.
func (q *BufferedQueue) PendingCount(ctx context.Context, systemID string) (int, error) {
	q.mu.Lock()
	b := 0
	for _, r := range q.buf {
		if r.SystemID == systemID {
			b++
		}
	}
	q.mu.Unlock()
	n, err := q.inner.PendingCount(ctx, systemID)
	if err != nil {
		return b, fmt.Errorf("dlr: pending count: %w", err)
	}
	return n + b, nil
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
