package dlr

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// DefaultRememberEntries bounds how many final outcomes a MemoryQueue keeps
// for Lookup (query_sm).
const DefaultRememberEntries = 100_000

// MemoryQueue is an in-process Queue. Pending receipts do NOT survive a
// restart of the process: the application says so at start-up when it runs
// without Redis.
//
// Each receipt is kept as a value (its addresses copied, so the submit_sm
// they were cut from is not kept alive) in an entry indexed by message id
// and by due time per account (a binary heap); see BENCHMARKS.md for the
// measured bytes per pending receipt. A removed receipt's entry stays in
// the id index, emptied, with its final outcome for Lookup, until the most
// recent DefaultRememberEntries (or MemoryOptions.RememberEntries) outcomes
// push it out: one index serves both, so a delivered receipt costs one
// lookup and no second map. Expiry is found by a scan when Expire is
// called (every few seconds), not by a second heap kept up to date on
// every Put and Ack.
type MemoryQueue struct {
	mu       sync.Mutex
	byID     map[string]*memEntry // pending and remembered entries
	accounts map[string]*memAccount
	pending  int

	finalRing []*memEntry // remembered entries, oldest at finalNext once full
	finalNext int
	finalCap  int
}

// MemoryOptions tunes a MemoryQueue. The zero value gives the defaults.
type MemoryOptions struct {
	// RememberEntries bounds the outcomes kept for Lookup (default
	// DefaultRememberEntries; negative: none).
	RememberEntries int
}

var _ Queue = (*MemoryQueue)(nil)

// NewMemoryQueue returns an empty in-process queue.
func NewMemoryQueue(opts MemoryOptions) *MemoryQueue {
	n := opts.RememberEntries
	if n == 0 {
		n = DefaultRememberEntries
	}
	q := &MemoryQueue{
		byID:     make(map[string]*memEntry),
		accounts: make(map[string]*memAccount),
		finalCap: max(n, 0),
	}
	if n > 0 {
		q.finalRing = make([]*memEntry, 0, min(n, 4096))
	}
	return q
}

type memAccount struct {
	id  string
	due memHeap
}

// memEntry is one receipt: pending while acct is set, afterwards only its
// id and final outcome are kept.
type memEntry struct {
	r     Receipt
	acct  *memAccount
	due   int64 // unix nanos: claimable from
	exp   int64 // unix nanos: expires at (MaxInt64 for never)
	idx   int32 // position in the account's due heap
	final Outcome
}

func (e *memEntry) pending() bool { return e.acct != nil }

// Put stores r.
func (q *MemoryQueue) Put(_ context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	// One copy of both addresses, so the submit_sm body they were cut from
	// is not kept alive by a pending receipt.
	both := r.Source.Addr + r.Dest.Addr
	r.Source.Addr, r.Dest.Addr = both[:len(r.Source.Addr)], both[len(r.Source.Addr):]
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.byID[r.MessageID]
	switch {
	case e == nil:
		e = &memEntry{}
		q.byID[r.MessageID] = e
	case e.pending():
		q.unlinkLocked(e)
	default: // a remembered entry is reused; the ring still points at it
		e.final = Outcome{}
	}
	a := q.accounts[r.SystemID]
	if a == nil {
		a = &memAccount{id: r.SystemID}
		q.accounts[r.SystemID] = a
	}
	e.r, e.acct, e.due, e.exp = r, a, unixNano(r.DueAt), expiryNanos(r.ExpiresAt)
	a.due.push(e)
	q.pending++
	return nil
}

// PutAsync is Put; it never blocks.
func (q *MemoryQueue) PutAsync(r Receipt, done func(error)) { done(q.Put(context.Background(), r)) }

// RecordAsync remembers o for r, which never was pending.
func (q *MemoryQueue) RecordAsync(o Outcome, r Receipt, done func(error)) {
	done(q.Ack(context.Background(), o, r))
}

// Claim leases up to max due receipts of systemID.
func (q *MemoryQueue) Claim(_ context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.accounts[systemID]
	if a == nil || max <= 0 {
		return nil, nil
	}
	n, until := now.UnixNano(), now.Add(lease).UnixNano()
	if until <= n { // a zero lease would hand the same entry out again
		until = n + 1
	}
	var out []Receipt
	for len(out) < max && a.due.len() > 0 {
		e := a.due.peek()
		if e.due > n {
			break
		}
		e.due = until
		a.due.fix(int(e.idx))
		out = append(out, e.r)
	}
	return out, nil
}

// Ack removes the receipts and remembers o for them.
func (q *MemoryQueue) Ack(_ context.Context, o Outcome, rs ...Receipt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range rs {
		ro := o
		if ro.SystemID == "" {
			ro.SystemID = r.SystemID
		}
		q.finishLocked(r.MessageID, ro)
	}
	return nil
}

// Retry stores r again, due at at, if it is still pending.
func (q *MemoryQueue) Retry(_ context.Context, r Receipt, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.byID[r.MessageID]
	if e == nil || !e.pending() {
		return nil
	}
	r.DueAt = at
	r.Source.Addr, r.Dest.Addr = e.r.Source.Addr, e.r.Dest.Addr // already copies
	e.r = r
	e.due = unixNano(at)
	e.acct.due.fix(int(e.idx))
	return nil
}

// Cancel removes a pending receipt of systemID.
func (q *MemoryQueue) Cancel(_ context.Context, systemID, messageID string, at time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.byID[messageID]
	if e == nil || !e.pending() || e.r.SystemID != systemID {
		return false, nil
	}
	q.finishLocked(messageID, Outcome{State: pdu.StateDeleted, At: at})
	return true, nil
}

// Lookup reports a pending receipt of systemID or a remembered outcome.
func (q *MemoryQueue) Lookup(_ context.Context, systemID, messageID string) (Outcome, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e := q.byID[messageID]
	switch {
	case e == nil:
		return Outcome{}, false, nil
	case e.pending():
		if e.r.SystemID != systemID {
			return Outcome{}, false, nil
		}
		return Outcome{State: pdu.StateEnroute, SystemID: e.r.SystemID, Destination: e.r.Dest.Addr, SubmittedAt: e.r.SubmittedAt}, true, nil
	}
	if e.final.SystemID != systemID {
		return Outcome{}, false, nil
	}
	return e.final, true, nil
}

// PendingCount returns the number of pending receipts of systemID.
func (q *MemoryQueue) PendingCount(_ context.Context, systemID string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a := q.accounts[systemID]; a != nil {
		return a.due.len(), nil
	}
	return 0, nil
}

// NextDue returns the earliest due time of systemID's receipts.
func (q *MemoryQueue) NextDue(_ context.Context, systemID string) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.accounts[systemID]
	if a == nil || a.due.len() == 0 {
		return time.Time{}, false, nil
	}
	return time.Unix(0, a.due.peek().due), true, nil
}

// Expire removes up to max receipts whose ExpiresAt is not after now. It
// scans the pending receipts: it runs every few seconds, and a scan costs
// less than keeping an expiry heap ordered on every Put and Ack.
func (q *MemoryQueue) Expire(_ context.Context, now time.Time, max int) ([]Receipt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := now.UnixNano()
	var out []Receipt
	for _, a := range q.accounts {
		for _, s := range a.due.a {
			if len(out) == max {
				break
			}
			if s.e.exp <= n {
				out = append(out, s.e.r)
			}
		}
	}
	for _, r := range out {
		q.finishLocked(r.MessageID, Outcome{State: pdu.StateExpired, At: now})
	}
	return out, nil
}

// Len returns the number of pending receipts.
func (q *MemoryQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending, nil
}

// unlinkLocked takes a pending entry out of its account's heap.
func (q *MemoryQueue) unlinkLocked(e *memEntry) {
	a := e.acct
	a.due.remove(int(e.idx))
	if a.due.len() == 0 {
		delete(q.accounts, a.id)
	}
	e.acct = nil
	q.pending--
}

// finishLocked ends a receipt with outcome o and remembers it for Lookup.
// Unknown ids are remembered too (an outcome another claimer reported).
func (q *MemoryQueue) finishLocked(id string, o Outcome) {
	e := q.byID[id]
	if e == nil {
		if q.finalCap == 0 {
			return
		}
		e = &memEntry{}
		q.byID[strings.Clone(id)] = e
	} else if e.pending() {
		q.unlinkLocked(e)
	} else { // already remembered: only the outcome changes
		if o.SystemID == "" {
			o.SystemID = e.r.SystemID
		}
		o.Destination, o.SubmittedAt = e.r.Dest.Addr, e.r.SubmittedAt
		e.final = o
		return
	}
	if q.finalCap == 0 {
		delete(q.byID, id)
		return
	}
	e.r = Receipt{MessageID: e.r.MessageID, SystemID: e.r.SystemID, Dest: pdu.Address{Addr: e.r.Dest.Addr}, SubmittedAt: e.r.SubmittedAt}
	if e.r.MessageID == "" {
		e.r.MessageID = strings.Clone(id)
	}
	if o.SystemID == "" {
		o.SystemID = e.r.SystemID
	}
	if o.Destination == "" {
		o.Destination = e.r.Dest.Addr
	}
	if o.SubmittedAt.IsZero() {
		o.SubmittedAt = e.r.SubmittedAt
	}
	e.final = o
	q.rememberLocked(e)
}

// rememberLocked puts a finished entry in the ring, forgetting the oldest
// once the ring is full.
func (q *MemoryQueue) rememberLocked(e *memEntry) {
	if len(q.finalRing) < q.finalCap {
		q.finalRing = append(q.finalRing, e)
		return
	}
	old := q.finalRing[q.finalNext]
	if cur := q.byID[old.r.MessageID]; cur == old && !old.pending() {
		delete(q.byID, old.r.MessageID)
	}
	q.finalRing[q.finalNext] = e
	q.finalNext = (q.finalNext + 1) % q.finalCap
}

func expiryNanos(t time.Time) int64 {
	if t.IsZero() {
		return 1<<63 - 1
	}
	return t.UnixNano()
}
