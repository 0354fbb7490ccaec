package dlr

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Causes of dlr_lost_total: every receipt the gateway promised (ESME_ROK)
// and will never send is counted under one of them.
const (
	// LostRedisDataLoss: Redis lost an account's keys (restarted empty,
	// flushed, failed over to a replica without them).
	LostRedisDataLoss = "redis_data_loss"
	// LostShutdown: still in the outage buffer when the process stopped.
	LostShutdown = "shutdown"
	// LostCorrupt: a stored body that does not decode (set aside).
	LostCorrupt = "corrupt"
)

var lostCauses = []string{LostRedisDataLoss, LostShutdown, LostCorrupt}

// LossCounter is dlr_lost_total{cause}, every cause exported from the
// start (at 0) so that an alert on its increase can fire on the first
// loss. A nil *LossCounter counts nothing.
type LossCounter struct {
	c  *prometheus.CounterVec
	mu sync.Mutex
	n  map[string]int // what this process counted, by cause
}

// NewLossCounter registers dlr_lost_total on reg (nil: not exported, still
// counted).
func NewLossCounter(reg prometheus.Registerer) (*LossCounter, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dlr_lost_total",
		Help: "Receipts promised with ESME_ROK that will never be sent, by cause (redis_data_loss, shutdown, corrupt).",
	}, []string{"cause"})
	if reg != nil {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			c = are.ExistingCollector.(*prometheus.CounterVec)
		}
	}
	for _, cause := range lostCauses {
		c.WithLabelValues(cause)
	}
	return &LossCounter{c: c, n: make(map[string]int)}, nil
}

func (l *LossCounter) add(cause string, n int) {
	if l != nil && n > 0 {
		l.c.WithLabelValues(cause).Add(float64(n))
		l.mu.Lock()
		l.n[cause] += n
		l.mu.Unlock()
	}
}

// Count returns what this process counted under cause.
func (l *LossCounter) Count(cause string) int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[cause]
}
