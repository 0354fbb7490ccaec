package pdu

import (
	"bufio"
	"io"
)

// SplitFunc returns a bufio.SplitFunc that yields whole PDUs from a byte
// stream, checking command_length (16..maxLen) before buffering a body; a
// maxLen below 16 means DefaultMaxLength. A length above maxLen yields a
// *FrameError as soon as the 16-octet header is there (or the stream
// ends), so the error carries the command and sequence number for the
// generic_nack; the body is never waited for. A length below 16 declares
// a frame that ends before a header would: it yields the error once the
// octets it declares are there, with the header's fields as far as they
// are buffered then (no sequence number without 16 octets). Waiting
// for 16 would wait for octets the client may never send, as it waits
// for the answer, or take them from its next PDU. The Scanner's buffer must
// allow tokens of maxLen octets (Scanner.Buffer), or it stops with
// bufio.ErrTooLong.
//
// The token aliases the Scanner's buffer; Decode copies what it keeps.
func SplitFunc(maxLen uint32) bufio.SplitFunc {
	if maxLen < HeaderLen {
		maxLen = DefaultMaxLength
	}
	return func(data []byte, atEOF bool) (int, []byte, error) {
		if len(data) < 4 {
			if atEOF && len(data) > 0 {
				return 0, nil, io.ErrUnexpectedEOF
			}
			return 0, nil, nil
		}
		n := be32(data)
		if n < HeaderLen || n > maxLen {
			if len(data) < HeaderLen && !atEOF && (n > maxLen || uint32(len(data)) < n) {
				return 0, nil, nil
			}
			fe := &FrameError{Length: n}
			// The header's fields as far as they are buffered: for a
			// frame shorter than a header that depends on how the
			// stream was cut, a best effort (for the generic_nack's
			// sequence number) for a frame that has none.
			if len(data) >= 8 {
				fe.Command = CommandID(be32(data[4:]))
			}
			if len(data) >= HeaderLen {
				fe.Sequence = be32(data[12:])
			}
			return 0, nil, fe
		}
		if uint64(len(data)) < uint64(n) {
			if atEOF {
				return 0, nil, io.ErrUnexpectedEOF
			}
			return 0, nil, nil
		}
		return int(n), data[:n:n], nil
	}
}
