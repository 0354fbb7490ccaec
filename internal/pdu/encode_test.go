package pdu

import (
	"bytes"
	"testing"
)

func TestAppendErrorResponseIsHeaderOnly(t *testing.T) {
	for _, p := range []PDU{
		pdu(CmdSubmitSMResp, StatusInvDstAdr, 7, &SubmitSMResp{MessageID: "dropped"}),
		pdu(CmdBindTransceiverResp, StatusInvPaswd, 7, &BindResp{Command: CmdBindTransceiverResp, SystemID: "dropped"}),
		pdu(CmdGenericNack, StatusInvCmdID, 7, &SubmitSMResp{MessageID: "dropped"}),
		pdu(CmdGenericNack, StatusOK, 7, nil),
	} {
		got := Append(nil, p)
		if want := AppendHeader(nil, p.Command, p.Status, 7); !bytes.Equal(got, want) {
			t.Errorf("%v: got % x, want % x", p.Command, got, want)
		}
	}
}

func TestAppendSubmitSMRespMatchesAppend(t *testing.T) {
	for _, st := range []Status{StatusOK, StatusThrottled} {
		got := AppendSubmitSMResp([]byte("prefix"), 9, st, "0123456789ABCDEF")
		want := Append([]byte("prefix"), pdu(CmdSubmitSMResp, st, 9, &SubmitSMResp{MessageID: "0123456789ABCDEF"}))
		if !bytes.Equal(got, want) {
			t.Errorf("status %v: got % x, want % x", st, got, want)
		}
	}
}

func TestAppendAfterExistingData(t *testing.T) {
	dst := AppendHeader(nil, CmdEnquireLink, 0, 1)
	dst = Append(dst, samples[0].pdu)
	p, err := Decode(dst[HeaderLen:])
	if err != nil || p.Sequence != samples[0].pdu.Sequence {
		t.Fatalf("second PDU in the buffer: %+v, %v", p, err)
	}
}

func TestAppendTakesCommandFromBody(t *testing.T) {
	got := Append(nil, PDU{Header: Header{Sequence: 3}, Body: receipt()})
	want := Append(nil, pdu(CmdDeliverSM, 0, 3, receipt()))
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}

func TestAppendDoesNotAllocate(t *testing.T) {
	buf := make([]byte, 0, 1024)
	p := pdu(CmdDeliverSM, 0, 1, receipt())
	if n := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], p) }); n != 0 {
		t.Errorf("Append: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendSubmitSMResp(buf[:0], 1, 0, "0123456789ABCDEF") }); n != 0 {
		t.Errorf("AppendSubmitSMResp: %v allocations", n)
	}
}

func TestDecodeSubmitSMAllocations(t *testing.T) {
	f := Append(nil, samples[13].pdu)
	if n := testing.AllocsPerRun(100, func() { _, _ = Decode(f) }); n > 2 {
		t.Errorf("Decode submit_sm: %v allocations", n)
	}
}

func TestAppendTLVMatchesWith(t *testing.T) {
	var b []byte
	b = AppendTLVCString(b, TagReceiptedMessageID, "ABC")
	b = AppendTLVUint8(b, TagMessageState, 2)
	b = AppendTLVUint16(b, TagSARMsgRefNum, 0x1234)
	b = AppendTLV(b, TagNetworkErrorCode, "\x03\x00\x03")
	want := TLVs("").WithCString(TagReceiptedMessageID, "ABC").WithUint8(TagMessageState, 2).
		WithUint16(TagSARMsgRefNum, 0x1234).With(TagNetworkErrorCode, "\x03\x00\x03")
	if string(b) != string(want) {
		t.Fatalf("got % x, want % x", b, want)
	}
	if id, ok := want.CString(TagReceiptedMessageID); !ok || id != "ABC" {
		t.Fatalf("CString = %q, %v", id, ok)
	}
}
