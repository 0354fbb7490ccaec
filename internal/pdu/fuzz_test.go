package pdu

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// FuzzDecode checks that Decode never panics, that a failure keeps the
// header and names a status, and that decode→encode→decode is stable:
// re-encoding a decoded PDU decodes to the same PDU, and a request the
// decoder accepted re-encodes to the very same octets.
func FuzzDecode(f *testing.F) {
	for _, fr := range goldenFrames(f) {
		f.Add(fr)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		checkDecodeStable(t, frame)
	})
}

func checkDecodeStable(t *testing.T, frame []byte) {
	p1, err := Decode(frame)
	checkDecodeIntoAgrees(t, frame, p1, err)
	if err != nil {
		if st := StatusOf(err); st == StatusOK || st == StatusSysErr {
			t.Fatalf("error %v maps to %v", err, st)
		}
		if p1.Body != nil {
			t.Fatalf("error %v with a body %+v", err, p1.Body)
		}
		if len(frame) >= HeaderLen && p1.Sequence != be32(frame[12:]) {
			t.Fatalf("error %v lost the sequence number", err)
		}
		return
	}
	if p1.Body == nil || p1.Body.CommandID() != p1.Command {
		t.Fatalf("%v decoded with body %T", p1.Command, p1.Body)
	}
	b1 := Append(nil, p1)
	p2, err := Decode(b1)
	if err != nil {
		t.Fatalf("re-encoding of %+v does not decode: %v\n% x", p1, err, b1)
	}
	if b2 := Append(nil, p2); !bytes.Equal(b1, b2) {
		t.Fatalf("encoding not stable:\n% x\n% x", b1, b2)
	}
	// Only the ignored parts (a body on a header-only PDU or an error
	// response, data after a response's fields) may change the length.
	p1.Length = p2.Length
	if !reflect.DeepEqual(p1, p2) {
		t.Fatalf("decode→encode→decode changed the PDU:\n%+v\n%+v", p1, p2)
	}
	if strictRequest(p1) && !bytes.Equal(b1, frame) {
		t.Fatalf("accepted request re-encodes differently:\n% x\n% x", frame, b1)
	}
}

// checkDecodeIntoAgrees checks that DecodeInto decodes frame as Decode did
// (want, wantErr), placing a submit_sm's body in the struct it is given
// and leaving that struct alone otherwise.
func checkDecodeIntoAgrees(t *testing.T, frame []byte, want PDU, wantErr error) {
	t.Helper()
	untouched := SubmitSM{SM{ServiceType: "kept", TLVs: "\x00\x05\x00\x01\x01"}}
	into := untouched
	got, err := DecodeInto(frame, &into)
	if !reflect.DeepEqual(err, wantErr) || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeInto: %+v, %v; Decode: %+v, %v", got, err, want, wantErr)
	}
	switch {
	case err == nil && got.Command == CmdSubmitSM:
		if got.Body != Body(&into) {
			t.Fatalf("DecodeInto did not place the submit_sm body in the struct given")
		}
	case !reflect.DeepEqual(into, untouched):
		t.Fatalf("DecodeInto of %v (error %v) wrote the struct given: %+v", got.Command, err, into)
	}
}

// strictRequest reports PDUs whose every octet Decode accounts for.
func strictRequest(p PDU) bool {
	return !p.Command.IsResponse() && headerOnlyBody(p.Command) == nil
}

// FuzzSplit feeds the framer one stream in pieces of fuzzed sizes: it must
// yield the same frames, and stop with the same error, as the whole stream
// read at once.
func FuzzSplit(f *testing.F) {
	frames := goldenFrames(f)
	var all []byte
	for _, fr := range frames {
		f.Add(fr, []byte{1})
		all = append(all, fr...)
	}
	f.Add(all, []byte{1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233})
	f.Add(append(all, 0x80, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1), []byte{7, 200})
	f.Fuzz(func(t *testing.T, stream, pieces []byte) {
		checkSplitStable(t, stream, pieces)
	})
}

const fuzzMaxLen = 512

func checkSplitStable(t *testing.T, stream, pieces []byte) {
	sizes := make([]int, len(pieces))
	for i, b := range pieces {
		sizes[i] = int(b) + 1
	}
	whole, errWhole := scanAll(bytes.NewReader(stream), fuzzMaxLen)
	split, errSplit := scanAll(&pieceReader{data: stream, pieces: sizes}, fuzzMaxLen)
	if !reflect.DeepEqual(whole, split) {
		t.Fatalf("pieces %v: %d frames, whole stream %d", sizes, len(split), len(whole))
	}
	if describe(noShortHeader(errWhole)) != describe(noShortHeader(errSplit)) {
		t.Fatalf("pieces %v: error %s, whole stream %s", sizes, describe(errSplit), describe(errWhole))
	}
	for _, fr := range whole {
		if n := be32(fr); int(n) != len(fr) || n < HeaderLen || n > fuzzMaxLen {
			t.Fatalf("frame of %d octets says %d", len(fr), n)
		}
	}
}

// noShortHeader drops the header fields of a FrameError whose frame is
// shorter than a header: SplitFunc reads them as far as they happen to be
// buffered, which depends on how the stream was cut.
func noShortHeader(err error) error {
	var fe *FrameError
	if errors.As(err, &fe) && fe.Length < HeaderLen {
		return &FrameError{Length: fe.Length}
	}
	return err
}

func describe(err error) string {
	var fe *FrameError
	if errors.As(err, &fe) {
		return fmt.Sprintf("%+v", *fe)
	}
	return fmt.Sprint(err)
}
