package pdu

import "testing"

// BenchmarkDecodeSubmitSMEncodeResp is the server's hot path: a submit_sm
// frame in, its submit_sm_resp appended to the session's write buffer.
func BenchmarkDecodeSubmitSMEncodeResp(b *testing.B) {
	benchDecodeEncodeResp(b, Decode)
}

// BenchmarkDecodeIntoSubmitSMEncodeResp is the same with the body decoded
// into a struct the caller holds, as the server's reader does with the
// request it dispatches: only the copy of the body is allocated.
func BenchmarkDecodeIntoSubmitSMEncodeResp(b *testing.B) {
	var sm SubmitSM
	benchDecodeEncodeResp(b, func(frame []byte) (PDU, error) { return DecodeInto(frame, &sm) })
}

func benchDecodeEncodeResp(b *testing.B, decode func([]byte) (PDU, error)) {
	frame := Append(nil, samples[13].pdu)
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		p, err := decode(frame)
		if err != nil {
			b.Fatal(err)
		}
		if p.Body.(*SubmitSM).Dest.Addr == "" {
			b.Fatal("no destination")
		}
		if len(out) > 3000 {
			out = out[:0]
		}
		out = AppendSubmitSMResp(out, p.Sequence, StatusOK, "0123456789ABCDEF")
	}
}

// BenchmarkEncodeReceiptDeliverSM encodes a ready delivery receipt, as the
// dispatcher does on every (re)try.
func BenchmarkEncodeReceiptDeliverSM(b *testing.B) {
	p := PDU{Header: Header{Command: CmdDeliverSM, Sequence: 1}, Body: receipt()}
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		out = Append(out[:0], p)
	}
}

// BenchmarkBuildAndEncodeReceiptDeliverSM builds the receipt from its
// parts (text and TLVs in one buffer, one string) and encodes it.
func BenchmarkBuildAndEncodeReceiptDeliverSM(b *testing.B) {
	const id, date, errCode = "0123456789ABCDEF", "2611251805", "003"
	scratch := make([]byte, 0, 256)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		s := append(scratch[:0], "id:"...)
		s = append(s, id...)
		s = append(s, " sub:001 dlvrd:000 submit date:"...)
		s = append(s, date...)
		s = append(s, " done date:"...)
		s = append(s, date...)
		s = append(s, " stat:DELIVRD err:"...)
		s = append(s, errCode...)
		s = append(s, " text:"...)
		n := len(s)
		s = AppendTLVCString(s, TagReceiptedMessageID, id)
		s = AppendTLVUint8(s, TagMessageState, uint8(StateDelivered))
		s = AppendTLV(s, TagNetworkErrorCode, "\x03\x00\x03")
		all := string(s)
		d := &DeliverSM{SM{Source: Address{1, 1, "447700900123"}, Dest: Address{5, 0, "Gateway"},
			ESMClass: 0x04, ShortMessage: all[:n], TLVs: TLVs(all[n:])}}
		out = Append(out[:0], PDU{Header: Header{Sequence: 1}, Body: d})
	}
	if string(out) != string(Append(nil, pdu(CmdDeliverSM, 0, 1, receipt()))) {
		b.Fatal("built receipt differs from the sample")
	}
}

// BenchmarkDecodeBind decodes a bind_transceiver.
func BenchmarkDecodeBind(b *testing.B) {
	frame := Append(nil, samples[0].pdu)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeDeliverSMResp decodes what every receipt gets back.
func BenchmarkDecodeDeliverSMResp(b *testing.B) {
	frame := Append(nil, pdu(CmdDeliverSMResp, 0, 1, &DeliverSMResp{}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame); err != nil {
			b.Fatal(err)
		}
	}
}
