package pdu

import (
	"errors"
	"reflect"
	"testing"
)

func TestDecodeMalformed(t *testing.T) {
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.frame)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Field != tc.field || fe.Status != tc.status || !errors.Is(err, tc.err) {
				t.Fatalf("got %q %v %v, want %q %v %v", fe.Field, fe.Status, fe.Err, tc.field, tc.status, tc.err)
			}
			if StatusOf(err) != tc.status {
				t.Fatalf("StatusOf = %v", StatusOf(err))
			}
			if p.Body != nil || p.Sequence != be32(tc.frame[12:]) || p.Command != CommandID(be32(tc.frame[4:])) {
				t.Fatalf("header not kept or body set: %+v", p)
			}
		})
	}
}

func TestDecodeUnknownCommand(t *testing.T) {
	for _, tc := range unknownFrames {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.frame)
			if !errors.Is(err, ErrUnknownCommand) || StatusOf(err) != StatusInvCmdID {
				t.Fatalf("err = %v", err)
			}
			want := Header{uint32(len(tc.frame)), CommandID(be32(tc.frame[4:])), Status(be32(tc.frame[8:])), be32(tc.frame[12:])}
			if p.Header != want || p.Body != nil {
				t.Fatalf("got %+v, want header %+v and no body", p, want)
			}
		})
	}
}

func TestDecodeLenient(t *testing.T) {
	for _, tc := range lenient {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Decode(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.Body, tc.want) {
				t.Fatalf("got %+v, want %+v", p.Body, tc.want)
			}
		})
	}
}

func TestDecodeBadFrameLength(t *testing.T) {
	for _, f := range [][]byte{
		nil,
		{0, 0, 0},
		{0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0}, // shorter than a header
		frame(CmdEnquireLink, 0, 9)[:15],         // header cut
		append(frame(CmdEnquireLink, 0, 9), 0),   // longer than command_length
		{0, 0, 0, 20, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9},      // shorter than command_length
		{0x80, 0, 0, 0, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9, 0}, // 2^31
	} {
		p, err := Decode(f)
		var fe *FrameError
		if !errors.As(err, &fe) || StatusOf(err) != StatusInvCmdLen || p.Body != nil {
			t.Errorf("% x: got %+v, %v", f, p, err)
		}
		if len(f) >= HeaderLen && (fe.Sequence != 9 || fe.Command != CmdEnquireLink) {
			t.Errorf("% x: FrameError %+v lost the header", f, fe)
		}
	}
}

// TestDecodeTruncatedSamples cuts every sample's mandatory fields short at
// every octet: each cut must be ESME_RINVMSGLEN, never a panic or success.
func TestDecodeTruncatedSamples(t *testing.T) {
	for _, tc := range samples {
		full := Append(nil, tc.pdu)
		body := full[HeaderLen:]
		if len(body) == 0 {
			continue
		}
		mandatory := len(body) - len(tlvsOf(tc.pdu.Body))
		for n := 1; n < mandatory; n++ {
			f := frame(tc.pdu.Command, tc.pdu.Status, tc.pdu.Sequence, string(body[:n]))
			_, err := Decode(f)
			if StatusOf(err) != StatusInvMsgLen {
				t.Errorf("%s cut to %d octets: %v", tc.name, n, err)
			}
		}
	}
}

func tlvsOf(b Body) TLVs {
	switch b := b.(type) {
	case *SubmitSM:
		return b.TLVs
	case *DeliverSM:
		return b.TLVs
	case *DataSM:
		return b.TLVs
	case *DataSMResp:
		return b.TLVs
	case *BindResp:
		return b.TLVs
	case *SubmitMulti:
		return b.TLVs
	case *AlertNotification:
		return b.TLVs
	}
	return ""
}

func TestStatusOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Status
	}{
		{nil, StatusOK},
		{StatusThrottled, StatusThrottled},
		{&FieldError{"x", StatusInvDstAdr, ErrFieldTooLong}, StatusInvDstAdr},
		{&FrameError{Length: 3}, StatusInvCmdLen},
		{ErrTruncated, StatusInvMsgLen},
		{ErrTrailingData, StatusInvMsgLen},
		{unknown(0x99), StatusInvCmdID},
		{errors.New("other"), StatusSysErr},
	} {
		if got := StatusOf(tc.err); got != tc.want {
			t.Errorf("StatusOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
