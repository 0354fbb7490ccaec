package smpp

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	Handler  Handler       // client requests after state checks; required
	Auth     Authenticator // binds; required
	SystemID string        // the server's system_id in bind responses; default "smpp-hlr-gw"

	Window              int           // requests in flight per session; default 256
	MaxConnections      int           // 0 = unlimited
	MaxPDULength        uint32        // command_length upper bound; default 64 KiB
	BindTimeout         time.Duration // close when no bind arrives; default 10 s
	EnquireLinkInterval time.Duration // idle time before we send enquire_link; default 30 s, negative disables
	InactivityTimeout   time.Duration // close when nothing arrives from the client; default 300 s, negative disables
	EnquireLinkTimeout  time.Duration // close when our enquire_link is not answered; default ResponseTimeout
	ResponseTimeout     time.Duration // wait for responses to our requests; default 10 s
	UnbindTimeout       time.Duration // graceful stop: wait for unbind_resp; default 2 s

	// Per-connection bounds (see outbuf.go).
	MaxOutputBytes      int           // encoded bytes waiting to be written before reading pauses; default 4 MiB
	MaxOutputBytesTotal int           // all sessions' bytes waiting beyond OutputFloorBytes each, before every session above its floor pauses too; default 64 MiB, negative none
	SlowConsumerTimeout time.Duration // close as slow_consumer when the output stays full this long; default 10 s
	MaxPrebindRequests  int           // requests other than bind answered before a bind; then close; default 10
	// MaxIdlePDUsPerSecond bounds a session's PDUs that do no work, per
	// second (idlebudget.go); default 1000 (DefaultIdlePDUsPerSecond),
	// negative none.
	MaxIdlePDUsPerSecond int

	// Admission (see admission.go); 0 = unlimited.
	MaxConnectionsPerIP   int // open connections from one remote address
	MaxUnboundConnections int // open connections that have not bound yet
	// MaxBindsPerAccount bounds the binds on this server of an account
	// whose max_binds is 0 (unlimited), so that one account's clients
	// cannot hold every connection; 0 = unlimited.
	MaxBindsPerAccount int

	// Failed-bind throttling (see bindguard.go).
	FailedBindDelay  time.Duration // slow-down step after repeated failed binds; default 1 s
	MaxFailedBinds   int           // failures from one address before it is refused for FailedBindBlock; default 20, negative never
	FailedBindBlock  time.Duration // how long such an address is refused; default 300 s
	BindGuardEntries int           // addresses (and address+system_id pairs) tracked; default 65536

	Clock Clock // timers; default SystemClock

	// BindLeases, when set, make max_binds hold across instances.
	BindLeases BindLeases

	// OnReceiversChanged is called with the number of receiver and
	// transceiver binds an account has whenever that number changes.
	OnReceiversChanged func(systemID string, receivers int)

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

func (o *Options) setDefaults() {
	if o.SystemID == "" {
		o.SystemID = "smpp-hlr-gw"
	}
	if o.Window <= 0 {
		o.Window = 256
	}
	if o.MaxPDULength == 0 {
		o.MaxPDULength = 64 * 1024
	}
	if o.BindTimeout <= 0 {
		o.BindTimeout = 10 * time.Second
	}
	if o.EnquireLinkInterval == 0 {
		o.EnquireLinkInterval = 30 * time.Second
	}
	if o.InactivityTimeout == 0 {
		o.InactivityTimeout = 300 * time.Second
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = 10 * time.Second
	}
	if o.EnquireLinkTimeout <= 0 {
		o.EnquireLinkTimeout = o.ResponseTimeout
	}
	if o.UnbindTimeout <= 0 {
		o.UnbindTimeout = 2 * time.Second
	}
	if o.MaxOutputBytes <= 0 {
		o.MaxOutputBytes = 4 << 20
	}
	if o.MaxOutputBytesTotal == 0 {
		o.MaxOutputBytesTotal = 64 << 20
	}
	if o.SlowConsumerTimeout <= 0 {
		o.SlowConsumerTimeout = 10 * time.Second
	}
	if o.MaxPrebindRequests <= 0 {
		o.MaxPrebindRequests = 10
	}
	if o.MaxIdlePDUsPerSecond == 0 {
		o.MaxIdlePDUsPerSecond = DefaultIdlePDUsPerSecond
	}
	if o.FailedBindDelay <= 0 {
		o.FailedBindDelay = time.Second
	}
	if o.MaxFailedBinds == 0 {
		o.MaxFailedBinds = 20
	}
	if o.FailedBindBlock <= 0 {
		o.FailedBindBlock = 300 * time.Second
	}
	if o.BindGuardEntries <= 0 {
		o.BindGuardEntries = 65536
	}
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// tick is how often a session checks its timers: a quarter of the
// shortest timer, between 10 ms and 1 s.
func (o *Options) tick() time.Duration {
	t := o.BindTimeout
	for _, d := range []time.Duration{o.EnquireLinkInterval, o.InactivityTimeout, o.ResponseTimeout, o.EnquireLinkTimeout} {
		if d > 0 && d < t {
			t = d
		}
	}
	t /= 4
	return min(max(t, 10*time.Millisecond), time.Second)
}
