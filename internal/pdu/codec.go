package pdu

import (
	"bufio"
	"errors"
)

// Errors returned by the codec. Decode errors carry the SMPP status the
// server should answer with; see StatusOf.
var (
	ErrUnknownCommand = errors.New("pdu: unknown command_id")
	ErrTruncated      = errors.New("pdu: body shorter than its fields")
	ErrTrailingData   = errors.New("pdu: data after the last field")
	ErrFieldTooLong   = errors.New("pdu: field longer than allowed")
	ErrBadLength      = errors.New("pdu: command_length out of range")
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
func StatusOf(err error) Status {
	panic("unimplemented")
}

// Decode decodes one complete PDU (header included). On an unknown command
// or a body that does not decode it still returns the header, so the caller
// can answer with the right sequence number.
func Decode(frame []byte) (PDU, error) {
	panic("unimplemented")
}

// Append appends the encoding of p to dst and returns the extended slice.
// command_length is computed; a response with a non-zero status is encoded
// as the bare 16-octet header.
func Append(dst []byte, p PDU) []byte {
	panic("unimplemented")
}

// AppendHeader appends a header-only PDU (enquire_link, unbind, their
// responses, generic_nack, any error response).
func AppendHeader(dst []byte, cmd CommandID, status Status, seq uint32) []byte {
	panic("unimplemented")
}

// AppendSubmitSMResp appends a submit_sm_resp without boxing a Body: the
// server's hot path.
func AppendSubmitSMResp(dst []byte, seq uint32, status Status, messageID string) []byte {
	panic("unimplemented")
}

// SplitFunc returns a bufio.SplitFunc that yields whole PDUs from a byte
// stream, checking command_length (16..maxLen) before buffering a body.
// A bad length yields a *FrameError.
func SplitFunc(maxLen uint32) bufio.SplitFunc {
	panic("unimplemented")
}
