package dlr

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// claimFailingQueue fails Claim while down is set.
type claimFailingQueue struct {
	Queue
	down atomic.Bool
}

func (q *claimFailingQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, error) {
	if q.down.Load() {
		return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
	}
	return q.Queue.Claim(ctx, sys, now, lease, n)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(event string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), `"event":"`+event+`"`)
}

// TestClaimFailureLoggedOncePerOutage: a queue that cannot be claimed from
// for 9 s (36 polls) logs dlr.claim_failed once, and its recovery once;
// it used to log every poll.
func TestClaimFailureLoggedOncePerOutage(t *testing.T) {
	var logs syncBuffer
	logger, err := logging.New(&logs, "INFO", "json")
	if err != nil {
		t.Fatal(err)
	}
	q := &claimFailingQueue{Queue: NewMemoryQueue(MemoryOptions{})}
	q.down.Store(true)
	h := newHarness(t, q, func(o *Options) { o.Logger = logger })
	h.d.ReceiversChanged("acme", 1)
	h.settle()
	for range 36 {
		h.clk.Advance(DefaultPollInterval)
		h.settle()
	}
	if n := logs.count("dlr.claim_failed"); n != 1 {
		t.Fatalf("dlr.claim_failed logged %d times during a 9 s outage, want 1:\n%s", n, logs.b.String())
	}
	q.down.Store(false)
	h.clk.Advance(DefaultPollInterval)
	h.settle()
	if n := logs.count("dlr.claim_recovered"); n != 1 {
		t.Fatalf("dlr.claim_recovered logged %d times, want 1:\n%s", n, logs.b.String())
	}
}
