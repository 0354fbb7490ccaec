package smpp

import "github.com/smpp-hlr-gateway/gateway/internal/pdu"

// State is the state of a session; see the package documentation.
type State int32

// Session states.
const (
	StateOpen State = iota
	StateBoundTX
	StateBoundRX
	StateBoundTRX
	StateUnbinding
	StateClosed
)

var stateNames = [...]string{"open", "bound_tx", "bound_rx", "bound_trx", "unbinding", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Bound reports whether s is one of the bound states.
func (s State) Bound() bool { return s == StateBoundTX || s == StateBoundRX || s == StateBoundTRX }

// CanTransmit reports whether a client in state s may submit messages.
func (s State) CanTransmit() bool { return s == StateBoundTX || s == StateBoundTRX }

// CanReceive reports whether the server may send deliver_sm in state s.
func (s State) CanReceive() bool { return s == StateBoundRX || s == StateBoundTRX }

// BindMode is the kind of bind a client asked for.
type BindMode uint8

// Bind modes.
const (
	ModeTransmitter BindMode = iota + 1
	ModeReceiver
	ModeTransceiver
)

func (m BindMode) String() string {
	switch m {
	case ModeTransmitter:
		return "transmitter"
	case ModeReceiver:
		return "receiver"
	case ModeTransceiver:
		return "transceiver"
	}
	return "none"
}

func (m BindMode) state() State {
	switch m {
	case ModeTransmitter:
		return StateBoundTX
	case ModeReceiver:
		return StateBoundRX
	}
	return StateBoundTRX
}

func modeOf(cmd pdu.CommandID) BindMode {
	switch cmd {
	case pdu.CmdBindTransmitter:
		return ModeTransmitter
	case pdu.CmdBindReceiver:
		return ModeReceiver
	case pdu.CmdBindTransceiver:
		return ModeTransceiver
	}
	return 0
}

// allowed reports whether a request with command c may arrive in state s.
// It encodes the state table of SMPP v3.4 section 2.3 for an SMSC.
func allowed(s State, c pdu.CommandID) bool {
	switch c {
	case pdu.CmdBindTransmitter, pdu.CmdBindReceiver, pdu.CmdBindTransceiver:
		return s == StateOpen
	case pdu.CmdSubmitSM, pdu.CmdSubmitMulti, pdu.CmdQuerySM, pdu.CmdCancelSM, pdu.CmdReplaceSM:
		return s.CanTransmit()
	case pdu.CmdDataSM:
		// The table allows data_sm in every bound state because either
		// side may issue it: the SMSC to a receiver, an ESME as a
		// transmitter. Arriving from an ESME it is a message to send.
		return s.CanTransmit()
	case pdu.CmdEnquireLink:
		// Bound, or unbinding while the answers in flight go out; before
		// a bind it is refused like every other request (the v3.4 table
		// lists it for the bound states only).
		return s != StateOpen
	case pdu.CmdUnbind:
		return s.Bound()
	}
	return false
}
