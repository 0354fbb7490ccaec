package dlr

import (
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dispatcher defaults.
const (
	DefaultRetryMin      = time.Second
	DefaultRetryMax      = 300 * time.Second
	DefaultLease         = 60 * time.Second
	DefaultBatchSize     = 256
	DefaultMaxInFlight   = 4096
	DefaultPollInterval  = 250 * time.Millisecond
	DefaultSweepInterval = 2 * time.Second
	DefaultOpTimeout     = 2 * time.Second
)

// Options configures a Dispatcher. Queue and Sender are required; every
// other zero field takes its default.
type Options struct {
	Queue  Queue
	Sender Sender
	Clock  Clock // default SystemClock

	// RetryMin and RetryMax bound the exponential backoff of failed
	// deliveries: attempt n waits RetryMin·2^(n-1), at most RetryMax
	// (defaults 1 s and 300 s).
	RetryMin, RetryMax time.Duration
	// Lease is how long a claimed receipt stays invisible to other claimers
	// (default 60 s). It must exceed the sender's deliver_sm_resp timeout:
	// after it, another instance may send the receipt again.
	Lease time.Duration
	// BatchSize is the most receipts claimed per account per step (256).
	BatchSize int
	// MaxInFlight bounds deliver_sm sent and not yet answered (4096).
	MaxInFlight int
	// PollInterval is how often accounts with receivers are checked for
	// receipts this dispatcher was not told about: put by other instances
	// on a shared queue, or written late by a BufferedQueue (250 ms).
	PollInterval time.Duration
	// SweepInterval is how often expired receipts are removed (for all
	// accounts, with or without receivers) and the per-account pending
	// counts refreshed (2 s).
	SweepInterval time.Duration
	// OpTimeout bounds each queue call made by the dispatcher loops (2 s).
	OpTimeout time.Duration
	// ClaimTimeout bounds each claim (default OpTimeout). A claim holds
	// its shard's loop, and with it the claims of the shard's other
	// accounts: on a Cluster whose master hangs, the first claim of each
	// of that master's accounts waits it out before the account is set
	// aside (probe.go). The application sets REDIS_TIMEOUT_SECONDS, the
	// client's time limit of one command: the Redis client tries a
	// command that timed out again, and OpTimeout would let it.
	ClaimTimeout time.Duration
	// ClaimWait, when set, is how long a loop waits for a claim before it
	// leaves the claim to finish on its own and goes on with the shard's
	// other accounts; the claim's receipts are sent at the step after it
	// ends (lateclaim.go). 0 (the default): each claim is waited for,
	// which suits a queue whose claims do no I/O. The application sets
	// REDIS_SLOW_MS (50 ms by default) with Redis, so that a claim of an
	// account whose Cluster master has just hung holds the others that
	// long, not ClaimTimeout.
	ClaimWait time.Duration
	// Shards is the number of scheduling loops (DLR_DISPATCHER_SHARDS;
	// default GOMAXPROCS). An account belongs to one shard by the hash of
	// its system_id, so its receipts keep their order; several accounts'
	// receipts are sent on several cores.
	Shards int

	Registerer prometheus.Registerer // nil: no metrics
	Logger     *slog.Logger          // nil: discard
}

func (o *Options) setDefaults() {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.RetryMin <= 0 {
		o.RetryMin = DefaultRetryMin
	}
	if o.RetryMax <= 0 {
		o.RetryMax = DefaultRetryMax
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = o.RetryMin
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = DefaultOpTimeout
	}
	if o.ClaimTimeout <= 0 || o.ClaimTimeout > o.OpTimeout {
		o.ClaimTimeout = o.OpTimeout
	}
	if o.Shards <= 0 {
		o.Shards = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// backoff returns the wait before attempt n (n >= 1).
func (o *Options) backoff(n int) time.Duration {
	d := o.RetryMin
	for i := 1; i < n && d < o.RetryMax; i++ {
		d *= 2
	}
	return min(d, o.RetryMax)
}
