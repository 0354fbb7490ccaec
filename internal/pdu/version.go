package pdu

// Interface versions of the bind's interface_version field.
const (
	// InterfaceVersion33 is SMPP v3.3: such a peer knows no optional
	// parameters (SMPP v3.4 section 2.2).
	InterfaceVersion33 uint8 = 0x33
	// InterfaceVersion34 is SMPP v3.4.
	InterfaceVersion34 uint8 = 0x34
)

// WithoutTLVs returns b as it may be sent to a peer bound with an
// interface_version below 0x34: a copy without optional parameters, or b
// itself when it has none. A text that only travels in message_payload
// moves to short_message when it fits there (254 octets).
func WithoutTLVs(b Body) Body {
	switch v := b.(type) {
	case *BindResp:
		if v.TLVs != "" {
			c := *v
			c.TLVs = ""
			return &c
		}
	case *DeliverSM:
		if v.TLVs != "" {
			c := *v
			c.SM = smWithoutTLVs(v.SM)
			return &c
		}
	case *SubmitSM:
		if v.TLVs != "" {
			c := *v
			c.SM = smWithoutTLVs(v.SM)
			return &c
		}
	case *DataSMResp:
		if v.TLVs != "" {
			c := *v
			c.TLVs = ""
			return &c
		}
	case *DataSM:
		if v.TLVs != "" {
			c := *v
			c.TLVs = ""
			return &c
		}
	case *SubmitMulti:
		if v.TLVs != "" {
			c := *v
			c.TLVs = ""
			return &c
		}
	case *AlertNotification:
		if v.TLVs != "" {
			c := *v
			c.TLVs = ""
			return &c
		}
	}
	return b
}

func smWithoutTLVs(m SM) SM {
	if m.ShortMessage == "" {
		if p, ok := m.TLVs.Get(TagMessagePayload); ok && len(p) <= MaxShortMessage {
			m.ShortMessage = p
		}
	}
	m.TLVs = ""
	return m
}
