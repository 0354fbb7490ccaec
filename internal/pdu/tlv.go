package pdu

import (
	"iter"
	"strings"
)

// Tag is the tag of an optional parameter (TLV).
type Tag uint16

// Optional parameter tags used by the gateway (SMPP v3.4 section 5.3.2).
const (
	TagDestAddrSubunit       Tag = 0x0005
	TagSourceAddrSubunit     Tag = 0x000D
	TagReceiptedMessageID    Tag = 0x001E
	TagUserMessageReference  Tag = 0x0204
	TagSourcePort            Tag = 0x020A
	TagDestinationPort       Tag = 0x020B
	TagSARMsgRefNum          Tag = 0x020C
	TagSARTotalSegments      Tag = 0x020E
	TagSARSegmentSeqnum      Tag = 0x020F
	TagSCInterfaceVersion    Tag = 0x0210
	TagPayloadType           Tag = 0x0019
	TagMessagePayload        Tag = 0x0424
	TagNetworkErrorCode      Tag = 0x0423
	TagMessageState          Tag = 0x0427
	TagDeliveryFailureReason Tag = 0x0425
	TagMoreMessagesToSend    Tag = 0x0426
	TagAdditionalStatusInfo  Tag = 0x001D
)

// TLVs is a raw, validated stream of optional parameters: each entry is a
// 2-octet tag, a 2-octet length and the value, as on the wire. Keeping the
// stream raw costs no allocation on decode; unknown tags pass through.
type TLVs string

// Get returns the value of the first optional parameter with the given tag.
func (t TLVs) Get(tag Tag) (string, bool) {
	for s := string(t); len(s) >= 4; {
		tg := Tag(uint16(s[0])<<8 | uint16(s[1]))
		n := int(uint16(s[2])<<8 | uint16(s[3]))
		if 4+n > len(s) {
			return "", false
		}
		if tg == tag {
			return s[4 : 4+n], true
		}
		s = s[4+n:]
	}
	return "", false
}

// All iterates over the optional parameters in wire order.
func (t TLVs) All() iter.Seq2[Tag, string] {
	return func(yield func(Tag, string) bool) {
		for s := string(t); len(s) >= 4; {
			tg := Tag(uint16(s[0])<<8 | uint16(s[1]))
			n := int(uint16(s[2])<<8 | uint16(s[3]))
			if 4+n > len(s) || !yield(tg, s[4:4+n]) {
				return
			}
			s = s[4+n:]
		}
	}
}

// With returns t with one more parameter appended. value must be at most
// 65535 octets.
func (t TLVs) With(tag Tag, value string) TLVs {
	b := make([]byte, 0, len(t)+4+len(value))
	b = append(b, t...)
	b = append(b, byte(tag>>8), byte(tag), byte(len(value)>>8), byte(len(value)))
	b = append(b, value...)
	return TLVs(b)
}

// WithUint8 appends a one-octet parameter.
func (t TLVs) WithUint8(tag Tag, v uint8) TLVs { return t.With(tag, string([]byte{v})) }

// WithUint16 appends a two-octet big-endian parameter.
func (t TLVs) WithUint16(tag Tag, v uint16) TLVs {
	return t.With(tag, string([]byte{byte(v >> 8), byte(v)}))
}

// WithCString appends a NUL-terminated string parameter, such as
// receipted_message_id.
func (t TLVs) WithCString(tag Tag, v string) TLVs { return t.With(tag, v+"\x00") }

// CString returns a C-octet string parameter without its NUL.
func (t TLVs) CString(tag Tag) (string, bool) {
	v, ok := t.Get(tag)
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return v, true
}
