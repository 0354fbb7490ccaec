package smpp

// CloseReason says why a session ended. It is logged and counted in
// smpp_connections_closed_total{reason}.
type CloseReason int32

// Close reasons.
const (
	CloseNone               CloseReason = iota
	ClosePeer                           // the client closed the connection
	CloseUnbind                         // the client unbound
	CloseShutdown                       // the server shut down
	CloseBindTimeout                    // no bind within the session-init timer
	CloseInactivity                     // no request within the inactivity timer
	CloseEnquireLinkTimeout             // our enquire_link went unanswered
	CloseBadFrame                       // command_length out of range: the stream cannot be framed
	CloseReadError                      // a read failed
	CloseWriteError                     // a write failed
	CloseTooManyConnections             // SMPP_MAX_CONNECTIONS reached
	ClosePanic                          // a panic was contained
	CloseBindFailed                     // repeated failed binds on the connection, or a bind the failed-bind throttle could not check before its bind timeout
	CloseSlowConsumer                   // the output buffer stayed full: the client does not read
	ClosePrebindRequests                // too many requests before a bind
	CloseTooManyFromAddress             // SMPP_MAX_CONNECTIONS_PER_IP reached for the address
	CloseTooManyUnbound                 // SMPP_MAX_UNBOUND_CONNECTIONS reached
	CloseAddressBlocked                 // the address is refused after repeated failed binds
	CloseAdminUnbind                    // unbound through the admin API
	CloseAccountRemoved                 // a reload removed the account
	CloseUnanswered                     // our requests timed out and the client answered none of them for a response timeout
	CloseUnboundEvicted                 // not bound yet, closed to make room for a connection from an address holding fewer (admission)
)

var closeReasonNames = [...]string{
	"none", "peer_closed", "unbind", "shutdown", "bind_timeout", "inactivity",
	"enquire_link_timeout", "bad_frame", "read_error", "write_error",
	"too_many_connections", "panic", "bind_failed", "slow_consumer", "prebind_requests",
	"too_many_from_address", "too_many_unbound", "address_blocked",
	"admin_unbind", "account_removed", "unanswered", "unbound_evicted",
}

func (r CloseReason) String() string {
	if int(r) >= 0 && int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return "unknown"
}
