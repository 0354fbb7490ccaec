package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// Receipts is what the handler needs of the receipt dispatcher.
type Receipts interface {
	Schedule(ctx context.Context, r dlr.Receipt) error
	// ScheduleAsync stores r and calls done once it is stored (or
	// failed), without holding the caller: the submit_sm_resp is sent
	// from done.
	ScheduleAsync(r dlr.Receipt, done func(error))
	// Accepted remembers an accepted message that asked for no receipt
	// (DLR_MODE=requested), so that query_sm can answer its state, and
	// calls done once it is remembered (or could not be: counted by the
	// queue), perhaps before it returns. The answer waits for done, so a
	// query_sm sent as soon as it arrives finds the message.
	Accepted(r dlr.Receipt, done func())
	// Cancel and Lookup only ever see receipts of systemID, the session's
	// account: message ids are predictable.
	Cancel(ctx context.Context, systemID, messageID string) (bool, error)
	Lookup(ctx context.Context, systemID, messageID string) (dlr.Outcome, bool, error)
	// PendingCount is the account's pending receipts, cheap to ask.
	PendingCount(ctx context.Context, systemID string) (int, error)
}

// NowScheduler is implemented by Receipts whose store never blocks (the
// memory queue): ScheduleNow stores r at once and reports handled, or
// stores nothing and reports false (the caller then uses ScheduleAsync).
// The handler answers such a submit without a callback per message.
type NowScheduler interface {
	ScheduleNow(r dlr.Receipt) (handled bool, err error)
}

// AccountCounter is implemented by Receipts that can hand out one
// account's pending count to be read again and again without a lookup by
// system_id (the dispatcher): a session's reader asks it once per submit.
type AccountCounter interface {
	AccountCount(systemID string) *dlr.AccountCount
}

// Policy says what to do when the HLR gave no usable answer.
type Policy uint8

// Policies.
const (
	Reject Policy = iota // answer ESME_RSYSERR
	Accept               // accept as an invalid number and send a receipt
)

// Options configure a Handler.
type Options struct {
	Lookuper hlr.Lookuper // required unless Resolver is set
	// Resolver normalises destinations and applies the rules and the
	// precheck before Lookuper (nil: one around Lookuper without regions,
	// rules or precheck). Answers it has in memory are decided on the
	// reader goroutine.
	Resolver      *hlr.Resolver
	Receipts      Receipts // required
	IDs           *IDs     // required
	TimeoutPolicy Policy   // HLR_TIMEOUT_POLICY; zero value Reject
	ErrorPolicy   Policy   // HLR_ERROR_POLICY; set Accept for the default
	LookupTimeout time.Duration
	DLRDelay      time.Duration
	DLRTTL        time.Duration
	// ReceiptsRequestedOnly is DLR_MODE=requested: a receipt only when
	// registered_delivery asks for one.
	ReceiptsRequestedOnly bool
	// InvalidNumberErr is the receipt err of a destination that is not a
	// phone number (default "003").
	InvalidNumberErr string
	// OtherErr is the receipt err after a timeout or HLR error (default "000").
	OtherErr string
	Workers  int // lookups in progress at once; default 256
	// QueueQueries bounds the query_sm and cancel_sm asking the receipt
	// queue at once (0: no bound); the others wait for a place on their
	// worker, at most the lookup timeout. With Redis each holds a
	// connection of the pool the receipts' commits need too: a flood of
	// them from one account must not slow every account's submits.
	QueueQueries int
	// InlineReceipts lets a cache hit that accepts the message store its
	// receipt on the reader goroutine: set it when Schedule never blocks
	// (the in-memory queue).
	InlineReceipts bool

	// Now is the clock of the times the handler reads itself (a
	// request's answer); a request's start is its Received, the server's
	// reading, when set.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}
