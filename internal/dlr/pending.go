package dlr

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// accountPending keeps a cheap per-account count of pending receipts, so
// that the submit path can enforce a cap without a queue round trip per
// submit: each Schedule adds one, each local removal takes one off, and
// the dispatcher's sweep replaces the estimate with the queue's own count
// (which also sees other instances' work). It is exported as the gauge
// dlr_account_pending{system_id}; the accounts it knows are those that
// submitted or bound a receiver, so its cardinality is bounded by the
// accounts file.
type accountPending struct {
	mu sync.Mutex
	n  map[string]int64
}

var accountPendingDesc = prometheus.NewDesc("dlr_account_pending",
	"Receipts waiting for delivery per account (for a shared queue: all instances'; refreshed every sweep, counted locally in between).",
	[]string{"system_id"}, nil)

func newAccountPending() *accountPending {
	return &accountPending{n: make(map[string]int64)}
}

// add changes sys's count by delta (never below zero).
func (p *accountPending) add(sys string, delta int64) {
	p.mu.Lock()
	v := p.n[sys] + delta
	p.n[sys] = max(v, 0)
	p.mu.Unlock()
}

// addEach changes the count of each receipt's account by delta, under one
// lock for the batch (answers come in batches of one account mostly).
func (p *accountPending) addEach(rs []Receipt, delta int64) {
	p.mu.Lock()
	for i := range rs {
		sys := rs[i].SystemID
		p.n[sys] = max(p.n[sys]+delta, 0)
	}
	p.mu.Unlock()
}

// touch makes sys known without changing its count.
func (p *accountPending) touch(sys string) {
	p.mu.Lock()
	if _, ok := p.n[sys]; !ok {
		p.n[sys] = 0
	}
	p.mu.Unlock()
}

func (p *accountPending) get(sys string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.n[sys])
}

func (p *accountPending) accounts() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.n))
	for sys := range p.n {
		out = append(out, sys)
	}
	return out
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
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, sys := range systems {
		if i < len(counts) && counts[i] >= 0 {
			p.n[sys] = int64(counts[i])
		}
	}
	return err
}

// Describe implements prometheus.Collector.
func (p *accountPending) Describe(ch chan<- *prometheus.Desc) { ch <- accountPendingDesc }

// Collect implements prometheus.Collector.
func (p *accountPending) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for sys, n := range p.n {
		ch <- prometheus.MustNewConstMetric(accountPendingDesc, prometheus.GaugeValue, float64(n), sys)
	}
}
