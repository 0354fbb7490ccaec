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
// they were cut from is not kept alive) in an entry indexed by message id,
// by due time per account (a binary heap) and by expiry time (one heap for
// all accounts); see BENCHMARKS.md for the measured bytes per pending
// receipt. Outcomes of
// removed receipts are remembered for Lookup, the most recent
// DefaultRememberEntries (or MemoryOptions.RememberEntries) of them.
type MemoryQueue struct {
	mu       sync.Mutex
	byID     map[string]*memEntry
	accounts map[string]*memAccount
	exp      memHeap // all entries by expiry time

	finals    map[string]Outcome
	finalRing []string // ids in finals, oldest at finalNext once full
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
		exp:      memHeap{kind: byExp},
		finals:   make(map[string]Outcome),
	}
	if n > 0 {
		q.finalRing = make([]string, 0, min(n, 4096))
	}
	q.finalCap = max(n, 0)
	return q
}

type memAccount struct {
	id  string
	due memHeap
}

// memEntry is one pending receipt, kept as a value: encoding it for the
// heap and decoding it for every claim cost more than the bytes it saves.
type memEntry struct {
	r    Receipt
	acct *memAccount
	key  [2]int64 // unix nanos: [byDue] claimable from, [byExp] expires at (MaxInt64 for never)
	idx  [2]int32 // positions in the account's due heap and the expiry heap
}

func (e *memEntry) id() string { return e.r.MessageID }

// Put stores r.
func (q *MemoryQueue) Put(_ context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if e, ok := q.byID[r.MessageID]; ok {
		q.removeLocked(e)
	}
	a := q.accounts[r.SystemID]
	if a == nil {
		a = &memAccount{id: r.SystemID, due: memHeap{kind: byDue}}
		q.accounts[r.SystemID] = a
	}
	r.Source.Addr, r.Dest.Addr = strings.Clone(r.Source.Addr), strings.Clone(r.Dest.Addr)
	e := &memEntry{r: r, acct: a, key: [2]int64{byDue: unixNano(r.DueAt), byExp: expiryNanos(r.ExpiresAt)}}
	q.byID[e.id()] = e
	a.due.push(e)
	q.exp.push(e)
	return nil
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
	var out []Receipt
	for len(out) < max && a.due.len() > 0 {
		e := a.due.peek()
		if e.key[byDue] > n {
			break
		}
		r := e.r
		if until <= n { // a zero lease would hand the same entry out again
			until = n + 1
		}
		e.key[byDue] = until
		a.due.fix(int(e.idx[byDue]))
		out = append(out, r)
	}
	return out, nil
}

// Ack removes the receipts and remembers o for them.
func (q *MemoryQueue) Ack(_ context.Context, o Outcome, rs ...Receipt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range rs {
		if e, ok := q.byID[r.MessageID]; ok {
			q.removeLocked(e)
		}
		q.rememberLocked(r.MessageID, o)
	}
	return nil
}

// Retry stores r again, due at at, if it is still pending.
func (q *MemoryQueue) Retry(_ context.Context, r Receipt, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.byID[r.MessageID]
	if !ok {
		return nil
	}
	r.DueAt = at
	delete(q.byID, r.MessageID)
	e.r = r
	q.byID[e.id()] = e
	e.key[byDue] = unixNano(at)
	e.acct.due.fix(int(e.idx[byDue]))
	return nil
}

// Cancel removes a pending receipt.
func (q *MemoryQueue) Cancel(_ context.Context, messageID string, at time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.byID[messageID]
	if !ok {
		return false, nil
	}
	q.removeLocked(e)
	q.rememberLocked(messageID, Outcome{State: pdu.StateDeleted, At: at})
	return true, nil
}

// Lookup reports a pending receipt or a remembered outcome.
func (q *MemoryQueue) Lookup(_ context.Context, messageID string) (Outcome, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.byID[messageID]; ok {
		return Outcome{State: pdu.StateEnroute}, true, nil
	}
	o, ok := q.finals[messageID]
	return o, ok, nil
}

// NextDue returns the earliest due time of systemID's receipts.
func (q *MemoryQueue) NextDue(_ context.Context, systemID string) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.accounts[systemID]
	if a == nil || a.due.len() == 0 {
		return time.Time{}, false, nil
	}
	return time.Unix(0, a.due.peek().key[byDue]), true, nil
}

// Expire removes up to max receipts whose ExpiresAt is not after now.
func (q *MemoryQueue) Expire(_ context.Context, now time.Time, max int) ([]Receipt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := now.UnixNano()
	var out []Receipt
	for len(out) < max && q.exp.len() > 0 && q.exp.peek().key[byExp] <= n {
		e := q.exp.peek()
		r := e.r
		q.removeLocked(e)
		q.rememberLocked(r.MessageID, Outcome{State: pdu.StateExpired, At: now})
		out = append(out, r)
	}
	return out, nil
}

// Len returns the number of pending receipts.
func (q *MemoryQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.byID), nil
}

func (q *MemoryQueue) removeLocked(e *memEntry) {
	delete(q.byID, e.id())
	a := e.acct
	a.due.remove(int(e.idx[byDue]))
	q.exp.remove(int(e.idx[byExp]))
	if a.due.len() == 0 {
		delete(q.accounts, a.id)
	}
}

func (q *MemoryQueue) rememberLocked(id string, o Outcome) {
	if q.finalCap == 0 {
		return
	}
	id = strings.Clone(id) // do not pin the submit_sm body the id was cut from
	if _, ok := q.finals[id]; ok {
		q.finals[id] = o
		return
	}
	if len(q.finalRing) < q.finalCap {
		q.finalRing = append(q.finalRing, id)
	} else {
		delete(q.finals, q.finalRing[q.finalNext])
		q.finalRing[q.finalNext] = id
		q.finalNext = (q.finalNext + 1) % q.finalCap
	}
	q.finals[id] = o
}

func expiryNanos(t time.Time) int64 {
	if t.IsZero() {
		return 1<<63 - 1
	}
	return t.UnixNano()
}
