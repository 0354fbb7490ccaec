package dlr

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// accountPending keeps a cheap per-account count of pending receipts, so
// that the submit path can enforce a cap without a queue round trip per
// submit: each Schedule adds one, each local removal takes one off, and
// the dispatcher's sweep replaces the estimate with the queue's own count
// (which also sees other instances' work). It is exported as the gauge
// dlr_account_pending{system_id} for the accounts of the accounts file
// (setAccounts, at start and on every reload), so its cardinality is
// bounded by that file.
//
// Each account's count is an atomic number in a map that is never changed
// once published: a new account publishes a copy (under mu), so the
// submit handlers of every session count without a lock.
type accountPending struct {
	mu sync.Mutex // held to publish a new map
	n  atomic.Pointer[map[string]*atomic.Int64]
	// fixed: setAccounts named the accounts followed; no other is added
	// (a removed account's last receipts and receivers must not bring
	// its series back). Before that, every account seen is followed.
	fixed atomic.Bool
}

var accountPendingDesc = prometheus.NewDesc("dlr_account_pending",
	"Receipts waiting for delivery per account (for a shared queue: all instances'; refreshed every sweep, counted locally in between).",
	[]string{"system_id"}, nil)

func newAccountPending() *accountPending {
	p := &accountPending{}
	p.n.Store(&map[string]*atomic.Int64{})
	return p
}

// counter returns sys's count, adding sys when it is new, unless the
// followed accounts are fixed (nil then).
func (p *accountPending) counter(sys string) *atomic.Int64 {
	if c, ok := (*p.n.Load())[sys]; ok {
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.n.Load()
	if c, ok := old[sys]; ok {
		return c
	}
	if p.fixed.Load() {
		return nil
	}
	next := make(map[string]*atomic.Int64, len(old)+1)
	maps.Copy(next, old)
	c := new(atomic.Int64)
	next[strings.Clone(sys)] = c
	p.n.Store(&next)
	return c
}

// add changes sys's count by delta (never below zero). A removal for an
// account it does not follow (one a reload removed) changes nothing.
func (p *accountPending) add(sys string, delta int64) {
	if delta < 0 {
		if c, ok := (*p.n.Load())[sys]; ok {
			addClamped(c, delta)
		}
		return
	}
	if c := p.counter(sys); c != nil {
		addClamped(c, delta)
	}
}

// setAccounts makes the followed accounts exactly ids (the accounts file):
// each is exported from the start, at 0 until counted, and an account a
// reload removed is no longer exported. Counts of kept accounts stay.
func (p *accountPending) setAccounts(ids []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fixed.Store(true)
	old := *p.n.Load()
	next := make(map[string]*atomic.Int64, len(ids))
	for _, id := range ids {
		if c, ok := old[id]; ok {
			next[id] = c
		} else {
			next[strings.Clone(id)] = new(atomic.Int64)
		}
	}
	p.n.Store(&next)
}

func addClamped(c *atomic.Int64, delta int64) {
	for {
		old := c.Load()
		if c.CompareAndSwap(old, max(old+delta, 0)) {
			return
		}
	}
}

// doneEach counts one receipt fewer for each receipt's account (answers
// come in batches of one account mostly: one map lookup per run of one
// account). An account no longer known (removed by a reload) stays gone.
func (p *accountPending) doneEach(rs []*Receipt) {
	var sys string
	var c *atomic.Int64
	known := false
	for i := range rs {
		if i == 0 || rs[i].SystemID != sys {
			sys = rs[i].SystemID
			c, known = (*p.n.Load())[sys]
		}
		if known {
			addClamped(c, -1)
		}
	}
}

// touch makes sys known without changing its count (unless the followed
// accounts are fixed).
func (p *accountPending) touch(sys string) { p.counter(sys) }

func (p *accountPending) get(sys string) int {
	if c, ok := (*p.n.Load())[sys]; ok {
		return int(c.Load())
	}
	return 0
}

// total is the sum of the accounts' counts: each the last count read,
// moved by this instance's puts and removals since.
func (p *accountPending) total() int {
	n := int64(0)
	for _, c := range *p.n.Load() {
		n += c.Load()
	}
	return int(n)
}

func (p *accountPending) accounts() []string {
	return slices.Collect(maps.Keys(*p.n.Load()))
}

// accountLister is implemented by queues that can name the accounts they
// hold receipts or outcomes of, also accounts no longer configured.
type accountLister interface {
	Accounts(ctx context.Context) ([]string, error)
}

// pendingCounter is implemented by queues that count several accounts in
// one round trip.
type pendingCounter interface {
	PendingCounts(ctx context.Context, systems []string) ([]int, error)
}

// pendingCountsOneByOne asks PendingCount per account; a failed account
// gets -1.
func pendingCountsOneByOne(ctx context.Context, q Queue, systems []string) ([]int, error) {
	out := make([]int, len(systems))
	var errs []error
	for i, sys := range systems {
		n, err := q.PendingCount(ctx, sys)
		if err != nil {
			errs = append(errs, err)
			n = -1
		}
		out[i] = n
	}
	return out, errors.Join(errs...)
}

// refresh asks q for the count of every known account; an account the
// queue cannot count keeps its local count.
func (p *accountPending) refresh(ctx context.Context, q Queue) error {
	systems := p.accounts()
	var counts []int
	var err error
	if pc, ok := q.(pendingCounter); ok {
		counts, err = pc.PendingCounts(ctx, systems)
	} else {
		counts, err = pendingCountsOneByOne(ctx, q, systems)
	}
	known := *p.n.Load()
	for i, sys := range systems {
		// Looked up, not added: an account a reload removed since the
		// snapshot stays removed.
		if c, ok := known[sys]; ok && i < len(counts) && counts[i] >= 0 {
			c.Store(int64(counts[i]))
		}
	}
	return err
}

// Describe implements prometheus.Collector.
func (p *accountPending) Describe(ch chan<- *prometheus.Desc) { ch <- accountPendingDesc }

// Collect implements prometheus.Collector.
func (p *accountPending) Collect(ch chan<- prometheus.Metric) {
	for sys, n := range *p.n.Load() {
		ch <- prometheus.MustNewConstMetric(accountPendingDesc, prometheus.GaugeValue, float64(n.Load()), sys)
	}
}

// AccountCount is one account's count of pending receipts for a caller
// that reads it again and again (a session's reader, once per submit):
// the account is looked up once, and again only when the followed
// accounts changed (a reload, a new account); in between Load is two
// atomic loads. It reads what PendingCount reads. It is not safe for
// concurrent use: each caller has its own.
type AccountCount struct {
	p   *accountPending
	sys string
	m   *map[string]*atomic.Int64 // the map c was looked up in
	c   *atomic.Int64             // sys's count in m; nil when m does not follow sys (0)
}

// Load returns the account's pending receipts, as PendingCount does.
func (a *AccountCount) Load() int {
	if m := a.p.n.Load(); m != a.m {
		a.m, a.c = m, (*m)[a.sys]
	}
	if a.c == nil {
		return 0
	}
	return int(a.c.Load())
}

// AccountCount returns systemID's AccountCount (see PendingCount).
func (d *Dispatcher) AccountCount(systemID string) *AccountCount {
	return &AccountCount{p: d.counts, sys: systemID}
}
