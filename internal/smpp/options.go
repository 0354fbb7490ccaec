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
	FailedBindDelay     time.Duration // slow-down step after repeated failed binds from one address; default 1 s

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
	if o.FailedBindDelay <= 0 {
		o.FailedBindDelay = time.Second
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
