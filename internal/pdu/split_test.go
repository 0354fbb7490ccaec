package pdu

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

// pieceReader yields its data in the given piece sizes, cycling through
// them, to show the framer the stream as a network would.
type pieceReader struct {
	data   []byte
	pieces []int
	i      int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := 1
	if len(r.pieces) > 0 {
		n = r.pieces[r.i%len(r.pieces)]
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// scanAll returns the frames the framer yields and the error it stops with.
func scanAll(r io.Reader, maxLen uint32) ([][]byte, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64), int(maxLen)+1)
	sc.Split(SplitFunc(maxLen))
	var frames [][]byte
	for sc.Scan() {
		frames = append(frames, bytes.Clone(sc.Bytes()))
	}
	return frames, sc.Err()
}

func sampleStream() []byte {
	var s []byte
	for _, tc := range samples {
		s = Append(s, tc.pdu)
	}
	return s
}

func TestSplitWholeFrames(t *testing.T) {
	stream := sampleStream()
	for _, pieces := range [][]int{nil, {1}, {3, 7}, {16}, {4096}} {
		frames, err := scanAll(&pieceReader{data: stream, pieces: pieces}, DefaultMaxLength)
		if err != nil || len(frames) != len(samples) {
			t.Fatalf("pieces %v: %d frames, %v", pieces, len(frames), err)
		}
		for i, f := range frames {
			if !bytes.Equal(f, Append(nil, samples[i].pdu)) {
				t.Fatalf("pieces %v: frame %d differs", pieces, i)
			}
		}
	}
}

func TestSplitBadLength(t *testing.T) {
	hdr := func(n uint32) []byte {
		b := AppendHeader(nil, CmdSubmitSM, 0, 0x0a0b0c0d)
		b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return b
	}
	for _, n := range []uint32{0, 15, 1 << 31, 1025} {
		// The good frame octet by octet, the bad header in one piece, as
		// a client writes it.
		stream := append(AppendHeader(nil, CmdEnquireLink, 0, 1), hdr(n)...)
		pieces := make([]int, HeaderLen+1)
		for i := range HeaderLen {
			pieces[i] = 1
		}
		pieces[HeaderLen] = HeaderLen
		frames, err := scanAll(&pieceReader{data: stream, pieces: pieces}, 1024)
		var fe *FrameError
		if len(frames) != 1 || !errors.As(err, &fe) {
			t.Fatalf("length %d: %d frames, %v", n, len(frames), err)
		}
		if *fe != (FrameError{Length: n, Command: CmdSubmitSM, Sequence: 0x0a0b0c0d}) {
			t.Fatalf("length %d: %+v", n, fe)
		}
	}
	// The header alone decides: a huge length is refused before any body.
	sf := SplitFunc(1024)
	if _, _, err := sf(hdr(1<<31), false); !errors.As(err, new(*FrameError)) {
		t.Fatalf("2^31 with only the header buffered: %v", err)
	}
	// Fewer than 16 octets at the end of the stream: no header fields.
	if _, _, err := sf([]byte{0, 0, 0, 1, 0}, true); !errors.Is(err, ErrBadLength) {
		t.Fatalf("short bad frame at EOF: %v", err)
	}
}

// TestSplitShortFrameNotWaitedFor: a frame declaring fewer than 16 octets
// is refused once those octets are there, without waiting for a header
// the client may never send (it waits for the answer) or that would be
// its next PDU's. It used to wait for 16 octets.
func TestSplitShortFrameNotWaitedFor(t *testing.T) {
	sf := SplitFunc(1024)
	for _, tc := range []struct {
		name string
		data []byte
		want *FrameError // nil: wait for more
	}{
		{"length 12, all of it", []byte{0, 0, 0, 12, 0, 0, 0, 0x15, 0, 0, 0, 0}, &FrameError{Length: 12, Command: CmdEnquireLink}},
		{"length 12, 8 octets so far", []byte{0, 0, 0, 12, 0, 0, 0, 0x15}, nil},
		{"length 8", []byte{0, 0, 0, 8, 0, 0, 0, 0x15}, &FrameError{Length: 8, Command: CmdEnquireLink}},
		{"length 0", []byte{0, 0, 0, 0}, &FrameError{Length: 0}},
		{"length 2, then more", []byte{0, 0, 0, 2, 9, 9}, &FrameError{Length: 2}},
		{"length 1025, 8 octets so far", []byte{0, 0, 4, 1, 0, 0, 0, 4}, nil},
	} {
		adv, tok, err := sf(tc.data, false)
		if adv != 0 || tok != nil {
			t.Fatalf("%s: advanced %d, token %q", tc.name, adv, tok)
		}
		var fe *FrameError
		switch {
		case tc.want == nil && err != nil:
			t.Fatalf("%s: %v, want to wait for more", tc.name, err)
		case tc.want != nil && (!errors.As(err, &fe) || *fe != *tc.want):
			t.Fatalf("%s: %v (%+v), want %+v", tc.name, err, fe, tc.want)
		}
	}
}

func TestSplitEOF(t *testing.T) {
	sf := SplitFunc(0)
	if adv, tok, err := sf(nil, true); adv != 0 || tok != nil || err != nil {
		t.Fatalf("empty at EOF: %d %q %v", adv, tok, err)
	}
	f := Append(nil, samples[0].pdu)
	for _, cut := range []int{1, 3, 4, 15, 16, len(f) - 1} {
		if _, _, err := sf(f[:cut], true); err != io.ErrUnexpectedEOF {
			t.Errorf("cut at %d: %v", cut, err)
		}
		if adv, tok, err := sf(f[:cut], false); adv != 0 || tok != nil || err != nil {
			t.Errorf("cut at %d before EOF: %d %q %v", cut, adv, tok, err)
		}
	}
}
