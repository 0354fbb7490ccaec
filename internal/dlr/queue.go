package dlr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Errors of this package. Returned errors wrap them; test with errors.Is.
var (
	// ErrNoReceiver is returned by a Sender when the account has no receiver
	// or transceiver bind.
	ErrNoReceiver = errors.New("dlr: no receiver bound")
	// ErrBusy is returned by a Sender whose receiver binds of the account
	// have no room for another request right now (their windows are
	// full). The receipt is put back unchanged, not counted as a failure.
	ErrBusy = errors.New("dlr: receivers have no room")
	// ErrInvalidReceipt rejects a receipt without a message id or system id.
	ErrInvalidReceipt = errors.New("dlr: invalid receipt")
	// ErrCorrupt reports an encoded receipt that does not decode.
	ErrCorrupt = errors.New("dlr: corrupt receipt encoding")
	// ErrBufferFull is returned by BufferedQueue.Put when the inner queue is
	// unavailable and the outage buffer is full. The receipt is not stored.
	ErrBufferFull = errors.New("dlr: outage buffer full")
	// ErrDegraded is returned by Healthy while receipts wait in the outage
	// buffer or the inner queue fails.
	ErrDegraded = errors.New("dlr: queue degraded")
)

// Outcome is the final state of a receipt that left the queue, or
// StateEnroute for a pending one.
type Outcome struct {
	// State is pdu.StateEnroute while pending; after removal:
	// StateDelivered (deliver_sm_resp OK), StateUndeliverable (dropped after
	// ESME_RX_P_APPN / ESME_RX_R_APPN), StateExpired (TTL reached) or
	// StateDeleted (cancel_sm).
	State pdu.MessageState
	// At is when it reached that state (zero while pending).
	At time.Time
	// SystemID is the account the receipt belongs to, when known; it lets
	// the gateway answer query_sm and cancel_sm only to that account.
	// Queues fill it from the receipt; callers of Ack need not set it.
	SystemID string
	// Destination is the submit_sm's destination_addr and SubmittedAt its
	// acceptance time, when the queue still knows them (zero otherwise).
	Destination string
	SubmittedAt time.Time
	// Source is the submit_sm's source_addr while the receipt is pending
	// (empty once it is finished): query_sm and cancel_sm that name one
	// must name this one.
	Source string
}

// Queue stores pending receipts. Implementations: MemoryQueue (one process,
// lost on restart), RedisQueue (durable, shared by instances) and
// BufferedQueue (rides out an outage of another queue). All methods are safe
// for concurrent use.
//
// A receipt is identified by its MessageID. A receipt is claimable when its
// due time has passed; Claim leases it (its due time becomes now+lease) so
// other claimers do not see it until the lease ends, and the claimer must
// then Ack or Retry it. A claimer that dies simply lets the lease run out.
type Queue interface {
	// Put stores r, due at r.DueAt. When it returns nil the receipt is as
	// durable as the implementation gets; the submit_sm_resp promising it
	// may then be sent. Putting the same MessageID again replaces it.
	Put(ctx context.Context, r Receipt) error
	// Claim returns up to max receipts of systemID due at now, earliest
	// first, and leases them until now+lease.
	Claim(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, error)
	// Ack removes receipts for good and remembers their final outcome for
	// Lookup (for a bounded time or number), also for receipts that were
	// no longer pending: the outcome of the caller's delivery is the truth.
	Ack(ctx context.Context, o Outcome, rs ...Receipt) error
	// Retry stores r again (Attempts already incremented), due at at. A
	// receipt no longer in the queue (cancelled, expired, acked by another
	// claimer) is not brought back.
	Retry(ctx context.Context, r Receipt, at time.Time) error
	// Cancel removes a pending receipt of systemID (cancel_sm) and
	// remembers it as StateDeleted at at. It reports whether one was
	// removed; a receipt of another account is never touched.
	Cancel(ctx context.Context, systemID, messageID string, at time.Time) (bool, error)
	// Lookup reports a pending receipt of systemID as StateEnroute, or the
	// remembered outcome of a removed one; false when the id is unknown,
	// forgotten or belongs to another account (message ids are
	// predictable: one account must not learn about another's).
	Lookup(ctx context.Context, systemID, messageID string) (Outcome, bool, error)
	// PendingCount returns the number of pending receipts of systemID.
	PendingCount(ctx context.Context, systemID string) (int, error)
	// NextDue returns the earliest due time of systemID's receipts (leased
	// ones count with their lease end); false when it has none.
	NextDue(ctx context.Context, systemID string) (time.Time, bool, error)
	// Expire removes up to max receipts of any account whose ExpiresAt is
	// not after now, remembers them as StateExpired and returns them.
	Expire(ctx context.Context, now time.Time, max int) ([]Receipt, error)
	// Len returns the number of pending receipts (all accounts).
	Len(ctx context.Context) (int, error)
}

// NextClaimer is implemented by queues whose Claim can also tell the
// account's next due time (NextDue) without another round trip.
type NextClaimer interface {
	ClaimNext(ctx context.Context, systemID string, now time.Time, lease time.Duration, max int) ([]Receipt, time.Time, bool, error)
}

// OutcomeRecorder is implemented by queues that can remember the outcome
// of a message that gets no receipt (DLR_MODE=requested) without holding
// the caller; done gets the result.
type OutcomeRecorder interface {
	RecordAsync(o Outcome, r Receipt, done func(error))
}

// Sender is implemented by the gateway on top of the SMPP server.
type Sender interface {
	// Deliver sends sm to one receiver/transceiver bind of systemID
	// (round-robin is the sender's job) and calls done exactly once with the
	// deliver_sm_resp, or with an error for a timeout or a lost connection.
	// It returns ErrNoReceiver at once when no such bind exists, ErrBusy
	// when the binds have no room (and then never calls done). sm is only
	// read during the call: the dispatcher reuses it for the next receipt.
	// done may be called from another goroutine, even before Deliver
	// returns; it must not block for long.
	Deliver(systemID string, sm *pdu.DeliverSM, done func(resp pdu.PDU, err error)) error
}

// CapacitySender is a Sender that can tell how many more deliver_sm the
// receiver binds of an account can take now. The dispatcher then claims no
// more than that, so a full window costs no claim and no put-back.
type CapacitySender interface {
	Sender
	Capacity(systemID string) int
}

// Clock is the dispatcher's time source; tests drive a fake one.
type Clock interface {
	Now() time.Time
	// TimerAt returns a timer that fires once the clock reaches at (at once
	// when at is not in the future).
	TimerAt(at time.Time) Timer
}

// Timer is a one-shot timer of a Clock.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// TimerAt returns a time.Timer firing at at.
func (SystemClock) TimerAt(at time.Time) Timer { return sysTimer{time.NewTimer(time.Until(at))} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }

func validate(r Receipt) error {
	if r.MessageID == "" || r.SystemID == "" {
		return fmt.Errorf("%w: message id %q, system id %q", ErrInvalidReceipt, r.MessageID, r.SystemID)
	}
	return nil
}
