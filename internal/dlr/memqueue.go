package dlr

import (
	"context"
	"maps"
	"slices"
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
// Each receipt is kept in a compact entry of 64 octets without pointers
// (memEntry: the id as an integer, both addresses packed, times as
// integers, err and reason as codes, the system id as an account number),
// in chunks the garbage collector does not scan; a Receipt is rebuilt on
// Claim and Expire. Entries are indexed by message id and by due time per
// account (memDue: lanes for receipts put or leased in due order, a heap
// for the rest); see BENCHMARKS.md for the measured bytes per
// pending receipt. A removed receipt's entry stays in the id index with
// its final outcome for Lookup until the most recent
// DefaultRememberEntries (or MemoryOptions.RememberEntries) outcomes push
// it out: one index serves both, so a delivered receipt costs one lookup
// and no second map. Expiry is found by a scan when Expire is called
// (every few seconds), not by a second heap kept up to date on every Put
// and Ack.
//
// One mutex guards it all: every operation is a few map and heap steps,
// far shorter than the work of the dispatcher loops and submit handlers
// that call it.
type MemoryQueue struct {
	mu      sync.Mutex
	store   memStore
	byID    memIndex          // entries with a canonical id
	byOther map[string]memRef // entries with an id of any other form
	spill   map[memRef]*memSpill
	texts   internTable
	accts   memAccounts
	pending int
	minExp  int64      // no pending receipt expires before this (Unix nanoseconds)
	claimed []heapSlot // Claim's scratch list
	// Claim's scratch text of the batch's ids and addresses, and their
	// lengths per receipt.
	claimText []byte
	claimLens []textLens

	finalRing []memRef // remembered entries, oldest at finalNext once full
	finalNext int
	finalCap  int
}

// maxClaimText bounds the scratch text Claim keeps from one batch to the
// next.
const maxClaimText = 64 << 10

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
		byOther:  make(map[string]memRef),
		spill:    make(map[memRef]*memSpill),
		texts:    newInternTable(),
		accts:    newMemAccounts(),
		minExp:   noExpiry,
		finalCap: max(n, 0),
	}
	if n > 0 {
		q.finalRing = make([]memRef, 0, min(n, 4096))
	}
	return q
}

// Put stores r.
func (q *MemoryQueue) Put(_ context.Context, r Receipt) error {
	if err := validate(r); err != nil {
		return err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	ref, found := q.findOrAddLocked(r.MessageID)
	if found && q.store.at(ref).flags&memPending != 0 {
		q.unlinkLocked(ref)
	}
	// A remembered entry is reused; its ring slot still names it, and
	// rememberLocked skips slots whose entry moved on.
	q.setAccountLocked(ref, r.SystemID)
	q.encodeLocked(ref, r)
	e := q.store.at(ref)
	e.flags = e.flags&^memRemembered | memPending
	e.state = 0
	q.accts.get(e.acct).due.push(ref, unixNano(r.DueAt))
	q.pending++
	return nil
}

// PutAsync is Put; it never blocks.
func (q *MemoryQueue) PutAsync(r Receipt, done func(error)) { done(q.Put(context.Background(), r)) }

// RecordAsync remembers o for r, which never was pending.
func (q *MemoryQueue) RecordAsync(o Outcome, r Receipt, done func(error)) {
	done(q.Ack(context.Background(), o, r))
}

// Claim leases up to max due receipts of systemID. A claimed receipt's
// DueAt is when it became claimable: its due time, or the end of an
// earlier lease that ran out.
func (q *MemoryQueue) Claim(_ context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.accts.find(systemID)
	if a == nil || max <= 0 {
		return nil, nil
	}
	n, until := now.UnixNano(), now.Add(lease).UnixNano()
	if until <= n { // a zero lease would hand the same entry out again
		until = n + 1
	}
	// The leased entries are gathered first so the result is allocated
	// once, at its size: the batch outlives the call (the dispatcher's
	// answers point into it), so it cannot be a reused buffer.
	claimed := q.claimed[:0]
	for len(claimed) < max && a.due.len() > 0 {
		top, where := a.due.first()
		if top.key > n {
			break
		}
		claimed = append(claimed, top)
		a.due.lease(top, where, until)
	}
	q.claimed = claimed[:0]
	if len(claimed) == 0 {
		return nil, nil
	}
	out := make([]Receipt, len(claimed))
	// The ids and addresses of the whole batch share one string: one
	// allocation per batch instead of one per receipt.
	text, lens := q.claimText[:0], q.claimLens[:0]
	for i, c := range claimed {
		var l textLens
		out[i], text, l = q.decodeIntoLocked(c.ref, c.key, text)
		lens = append(lens, l)
	}
	rest := string(text)
	for i := range out {
		rest = out[i].setTexts(rest, lens[i])
	}
	if cap(text) <= maxClaimText {
		q.claimText, q.claimLens = text[:0], lens[:0]
	} else { // an unusually large batch: not kept
		q.claimText, q.claimLens = nil, nil
	}
	return out, nil
}

// Ack removes the receipts and remembers o for them.
func (q *MemoryQueue) Ack(_ context.Context, o Outcome, rs ...Receipt) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range rs {
		q.finishLocked(&rs[i], o)
	}
	q.compactIfSparseLocked()
	return nil
}

// ackClaimed is Ack for receipts given by pointer: the dispatcher's
// answers point into the claimed batches, and copying each receipt into a
// list for Ack cost more than the rest of its answer's handling.
func (q *MemoryQueue) ackClaimed(o Outcome, rs []*Receipt) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range rs {
		q.finishLocked(r, o)
	}
	q.compactIfSparseLocked()
}

// Retry stores r again, due at at, if it is still pending.
func (q *MemoryQueue) Retry(_ context.Context, r Receipt, at time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	ref, ok := q.findLocked(r.MessageID)
	if !ok || q.store.at(ref).flags&memPending == 0 {
		return nil
	}
	q.encodeLocked(ref, r)
	e := q.store.at(ref)
	q.accts.get(e.acct).due.fix(ref, unixNano(at))
	return nil
}

// Cancel removes a pending receipt of systemID.
func (q *MemoryQueue) Cancel(_ context.Context, systemID, messageID string, at time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ref, ok := q.findLocked(messageID)
	if !ok {
		return false, nil
	}
	e := q.store.at(ref)
	if e.flags&memPending == 0 || q.accts.name(e.acct) != systemID {
		return false, nil
	}
	// Claimed and its lease not over: being sent, no longer recalled
	// (as cancelLua on Redis).
	if until := q.accts.get(e.acct).due.leasedUntil(ref); until > unixNano(at) {
		return false, nil
	}
	q.finishRefLocked(ref, Outcome{State: pdu.StateDeleted, At: at, SystemID: systemID})
	q.compactIfSparseLocked()
	return true, nil
}

// Accounts names the accounts some entry (pending or remembered) names.
func (q *MemoryQueue) Accounts(context.Context) ([]string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Collect(maps.Keys(q.accts.byName)), nil
}

// Lookup reports a pending receipt of systemID or a remembered outcome.
func (q *MemoryQueue) Lookup(_ context.Context, systemID, messageID string) (Outcome, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ref, ok := q.findLocked(messageID)
	if !ok {
		return Outcome{}, false, nil
	}
	e := q.store.at(ref)
	if q.accts.name(e.acct) != systemID {
		return Outcome{}, false, nil
	}
	src, dst := q.addrsLocked(ref)
	o := Outcome{State: pdu.MessageState(e.state), SystemID: systemID, Destination: dst, SubmittedAt: fromNanos(e.sub)}
	if e.flags&memPending != 0 {
		o.State, o.Source = pdu.StateEnroute, src
	} else {
		o.At = fromNanos(e.exp)
	}
	return o, true, nil
}

// PendingCount returns the number of pending receipts of systemID.
func (q *MemoryQueue) PendingCount(_ context.Context, systemID string) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if a := q.accts.find(systemID); a != nil {
		return a.due.len(), nil
	}
	return 0, nil
}

// NextDue returns the earliest due time of systemID's receipts.
func (q *MemoryQueue) NextDue(_ context.Context, systemID string) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	a := q.accts.find(systemID)
	if a == nil || a.due.len() == 0 {
		return time.Time{}, false, nil
	}
	return time.Unix(0, a.due.peek().key), true, nil
}

// Expire removes up to max receipts whose ExpiresAt is not after now. The
// sweep calls it every few seconds: it returns at once while now is before
// the earliest expiry of any pending receipt (a bound kept on Put and
// Retry), and otherwise scans the entries in the order they lie in memory,
// which costs less than keeping an expiry heap ordered on every Put and Ack.
func (q *MemoryQueue) Expire(_ context.Context, now time.Time, max int) ([]Receipt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := now.UnixNano()
	if n < q.minExp || max == 0 {
		return nil, nil
	}
	var refs []memRef
	var out []Receipt
	rest := int64(noExpiry) // earliest expiry of the receipts that stay
	for ref := memRef(0); ref < q.store.used; ref++ {
		e := q.store.at(ref)
		switch {
		case e.flags&memPending == 0:
		case e.exp > n:
			rest = min(rest, e.exp)
		case len(out) == max:
			rest = min(rest, e.exp) // left for the next call
		default:
			refs = append(refs, ref)
			out = append(out, q.decodeLocked(ref, q.accts.get(e.acct).due.key(ref)))
		}
	}
	q.minExp = rest
	for _, ref := range refs {
		q.finishRefLocked(ref, Outcome{State: pdu.StateExpired, At: now})
	}
	q.compactIfSparseLocked()
	return out, nil
}

// Len returns the number of pending receipts.
func (q *MemoryQueue) Len(context.Context) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending, nil
}
