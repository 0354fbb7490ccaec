package pdu

import (
	"strings"
	"testing"
)

func TestValidTime(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"261125180500000+", true},
		{"261125180500448-", true},  // tenths 4, UTC-12:00
		{"000002000000000R", true},  // two days from now
		{"991299995999000R", true},  // relative fields are amounts, not a date
		{"261125180500049+", false}, // nn above 48
		{"260025180500000+", false}, // month 00
		{"261300180500000+", false}, // month 13
		{"261100180500000+", false}, // day 00
		{"261132180500000+", false}, // day 32
		{"260230120000000+", false}, // 30 February
		{"270229120000000+", false}, // 29 February of a common year
		{"280229120000000+", true},  // of a leap year
		{"260431120000000+", false}, // 31 April
		{"261231235959000-", true},
		{"261125240500000+", false}, // hour 24
		{"261125186000000+", false}, // minute 60
		{"261125180560000+", false}, // second 60
		{"261125180500000Z", false}, // no such p
		{"26112518050000+", false},  // 15 characters
		{"2611251805000000+", false},
		{"abcdefghijklmno+", false},
		{"00000200000000aR", false},
		{strings.Repeat(" ", 16), false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidTime(tt.s); got != tt.want {
			t.Errorf("ValidTime(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// TestLongShortMessageTravelsAsPayload: a short_message over 254 octets is
// never encoded with a wrapped sm_length; it decodes back as the
// message_payload parameter with the same text.
func TestLongShortMessageTravelsAsPayload(t *testing.T) {
	text := strings.Repeat("0123456789", 30) // 300 octets
	for _, body := range []Body{
		&SubmitSM{SM: SM{Dest: Address{1, 1, "4915123456789"}, ShortMessage: text, DataCoding: 0}},
		&DeliverSM{SM: SM{Dest: Address{1, 1, "4915123456789"}, ShortMessage: text, TLVs: TLVs("").WithUint8(TagMessageState, 2)}},
		&SubmitMulti{Dests: []DestAddress{{Address: Address{1, 1, "4915123456789"}}}, ShortMessage: text},
	} {
		wire := Append(nil, PDU{Header: Header{Sequence: 1}, Body: body})
		p, err := Decode(wire)
		if err != nil {
			t.Fatalf("%T: the encoding does not decode: %v", body, err)
		}
		var sm string
		var tlvs TLVs
		switch b := p.Body.(type) {
		case *SubmitSM:
			sm, tlvs = b.ShortMessage, b.TLVs
		case *DeliverSM:
			sm, tlvs = b.ShortMessage, b.TLVs
		case *SubmitMulti:
			sm, tlvs = b.ShortMessage, b.TLVs
		}
		payload, ok := tlvs.Get(TagMessagePayload)
		if sm != "" || !ok || payload != text {
			t.Fatalf("%T: short_message %q, message_payload %q (%v); want the text in message_payload", body, sm, payload, ok)
		}
	}
	// replace_sm has no optional parameters: at most 254 octets, never a
	// wrapped length.
	wire := Append(nil, PDU{Header: Header{Sequence: 1}, Body: &ReplaceSM{MessageID: "1", ShortMessage: text}})
	p, err := Decode(wire)
	if err != nil || len(p.Body.(*ReplaceSM).ShortMessage) != MaxShortMessage {
		t.Fatalf("replace_sm with 300 octets: %v, %+v", err, p.Body)
	}
}

func TestWithoutTLVs(t *testing.T) {
	receipt := &DeliverSM{SM: SM{ShortMessage: "id:1 stat:DELIVRD",
		TLVs: TLVs("").WithUint8(TagMessageState, 2)}}
	got := WithoutTLVs(receipt).(*DeliverSM)
	if got.TLVs != "" || got.ShortMessage != receipt.ShortMessage || receipt.TLVs == "" {
		t.Fatalf("WithoutTLVs: %+v (original %+v)", got, receipt)
	}
	payloadOnly := &DeliverSM{SM: SM{TLVs: TLVs("").With(TagMessagePayload, "text")}}
	if got := WithoutTLVs(payloadOnly).(*DeliverSM); got.ShortMessage != "text" || got.TLVs != "" {
		t.Fatalf("message_payload not moved to short_message: %+v", got)
	}
	resp := &BindResp{SystemID: "gw", TLVs: TLVs("").WithUint8(TagSCInterfaceVersion, 0x34)}
	if got := WithoutTLVs(resp).(*BindResp); got.TLVs != "" {
		t.Fatalf("bind_resp keeps %q", got.TLVs)
	}
	plain := &SubmitSMResp{MessageID: "1"}
	if WithoutTLVs(plain) != Body(plain) {
		t.Fatal("a body without TLVs was copied")
	}
}
