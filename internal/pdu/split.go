package pdu

import (
	"bufio"
	"io"
)

// SplitFunc returns a bufio.SplitFunc that yields whole PDUs from a byte
// stream, checking command_length (16..maxLen) before buffering a body; a
// maxLen below 16 means DefaultMaxLength. A bad length yields a
// *FrameError as soon as the 16-octet header is there (or the stream
// ends), so the error carries the command and sequence number for the
// generic_nack; the body is never waited for. The Scanner's buffer must
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
			if len(data) < HeaderLen && !atEOF {
				return 0, nil, nil
			}
			fe := &FrameError{Length: n}
			if len(data) >= HeaderLen {
				fe.Command = CommandID(be32(data[4:]))
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
