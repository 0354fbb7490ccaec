package pdu

import "errors"

// Errors returned by the codec. Decode errors carry the SMPP status the
// server should answer with; see StatusOf.
var (
	ErrUnknownCommand = errors.New("pdu: unknown command_id")
	ErrTruncated      = errors.New("pdu: body shorter than its fields")
	ErrTrailingData   = errors.New("pdu: data after the last field")
	ErrFieldTooLong   = errors.New("pdu: field longer than allowed")
	ErrBadLength      = errors.New("pdu: command_length out of range")
	ErrInvalidField   = errors.New("pdu: field value not allowed")
	ErrBothPayloads   = errors.New("pdu: short_message and message_payload both present")
)

// FieldError says which field of a body failed to decode and which status
// answers it (e.g. ESME_RINVDSTADR for an over-long destination_addr).
type FieldError struct {
	Field  string
	Status Status
	Err    error
}

func (e *FieldError) Error() string { return "pdu: " + e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// FrameError reports a command_length below 16 or above the maximum. The
// stream can no longer be trusted after it.
type FrameError struct {
	Length   uint32
	Command  CommandID
	Sequence uint32 // zero when fewer than 16 octets were available
}

func (e *FrameError) Error() string { return ErrBadLength.Error() }
func (e *FrameError) Unwrap() error { return ErrBadLength }

// StatusOf returns the command_status a server answers a decode error
// with: the field's status for a *FieldError, ESME_RINVCMDID for an
// unknown command, ESME_RINVCMDLEN for a bad length, ESME_RINVMSGLEN
// for a truncated or over-long body, ESME_RSYSERR for anything else.
// A Status used as an error (a handler's answer) is returned as is, and
// a nil error is ESME_ROK.
func StatusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Status
	}
	var st Status
	switch {
	case errors.As(err, &st):
		return st
	case errors.Is(err, ErrUnknownCommand):
		return StatusInvCmdID
	case errors.Is(err, ErrBadLength):
		return StatusInvCmdLen
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrTrailingData),
		errors.Is(err, ErrFieldTooLong), errors.Is(err, ErrBothPayloads):
		return StatusInvMsgLen
	}
	return StatusSysErr
}
