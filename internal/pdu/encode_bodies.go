package pdu

// appendBody encodes a body in wire order (SMPP v3.4 section 4). A type
// switch over the concrete pointers keeps it free of allocations.
func appendBody(dst []byte, b Body) []byte {
	switch b := b.(type) {
	case *Bind:
		dst = appendCString(dst, b.SystemID)
		dst = appendCString(dst, b.Password)
		dst = appendCString(dst, b.SystemType)
		dst = append(dst, b.InterfaceVersion, b.AddrTON, b.AddrNPI)
		dst = appendCString(dst, b.AddressRange)
	case *BindResp:
		dst = appendCString(dst, b.SystemID)
		dst = append(dst, b.TLVs...)
	case *Outbind:
		dst = appendCString(dst, b.SystemID)
		dst = appendCString(dst, b.Password)
	case *SubmitSM:
		dst = appendSM(dst, &b.SM)
	case *DeliverSM:
		dst = appendSM(dst, &b.SM)
	case *SubmitSMResp:
		dst = appendCString(dst, b.MessageID)
	case *DeliverSMResp:
		dst = appendCString(dst, b.MessageID)
	case *DataSM:
		dst = appendCString(dst, b.ServiceType)
		dst = appendAddr(dst, b.Source)
		dst = appendAddr(dst, b.Dest)
		dst = append(dst, b.ESMClass, b.RegisteredDelivery, b.DataCoding)
		dst = append(dst, b.TLVs...)
	case *DataSMResp:
		dst = appendCString(dst, b.MessageID)
		dst = append(dst, b.TLVs...)
	case *SubmitMulti:
		dst = appendSubmitMulti(dst, b)
	case *SubmitMultiResp:
		dst = appendCString(dst, b.MessageID)
		dst = append(dst, byte(len(b.Unsuccess)))
		for _, u := range b.Unsuccess {
			dst = appendAddr(dst, u.Address)
			dst = appendU32(dst, uint32(u.Status))
		}
	case *QuerySM:
		dst = appendCString(dst, b.MessageID)
		dst = appendAddr(dst, b.Source)
	case *QuerySMResp:
		dst = appendCString(dst, b.MessageID)
		dst = appendCString(dst, b.FinalDate)
		dst = append(dst, byte(b.MessageState), b.ErrorCode)
	case *CancelSM:
		dst = appendCString(dst, b.ServiceType)
		dst = appendCString(dst, b.MessageID)
		dst = appendAddr(dst, b.Source)
		dst = appendAddr(dst, b.Dest)
	case *ReplaceSM:
		dst = appendCString(dst, b.MessageID)
		dst = appendAddr(dst, b.Source)
		dst = appendCString(dst, b.ScheduleDeliveryTime)
		dst = appendCString(dst, b.ValidityPeriod)
		dst = append(dst, b.RegisteredDelivery, b.SMDefaultMsgID)
		dst = appendShortMessage(dst, b.ShortMessage)
	case *AlertNotification:
		dst = appendAddr(dst, b.Source)
		dst = appendAddr(dst, b.ESMEAddr)
		dst = append(dst, b.TLVs...)
	}
	// Header-only bodies and nil add nothing.
	return dst
}

func appendSM(dst []byte, m *SM) []byte {
	dst = appendCString(dst, m.ServiceType)
	dst = appendAddr(dst, m.Source)
	dst = appendAddr(dst, m.Dest)
	dst = append(dst, m.ESMClass, m.ProtocolID, m.PriorityFlag)
	dst = appendCString(dst, m.ScheduleDeliveryTime)
	dst = appendCString(dst, m.ValidityPeriod)
	dst = append(dst, m.RegisteredDelivery, m.ReplaceIfPresent, m.DataCoding, m.SMDefaultMsgID)
	return appendText(dst, m.ShortMessage, m.TLVs)
}

// appendText appends sm_length, short_message and the optional parameters.
// A short_message longer than sm_length can say (254 octets) is sent as
// the message_payload parameter with sm_length 0, as SMPP v3.4 section
// 5.3.2.32 provides, rather than with a wrapped length. When the caller
// already set message_payload too, that one is kept and the over-long
// short_message is not sent (the two are exclusive in the specification).
func appendText(dst []byte, sm string, tlvs TLVs) []byte {
	if len(sm) <= MaxShortMessage {
		dst = appendShortMessage(dst, sm)
		return append(dst, tlvs...)
	}
	dst = append(dst, 0)
	dst = append(dst, tlvs...)
	if _, ok := tlvs.Get(TagMessagePayload); ok {
		return dst
	}
	return AppendTLV(dst, TagMessagePayload, sm[:min(len(sm), maxTLVValue)])
}

// maxTLVValue is the largest value a 16-bit TLV length can carry.
const maxTLVValue = 0xFFFF

func appendSubmitMulti(dst []byte, b *SubmitMulti) []byte {
	dst = appendCString(dst, b.ServiceType)
	dst = appendAddr(dst, b.Source)
	dst = append(dst, byte(len(b.Dests)))
	for _, d := range b.Dests {
		if d.IsDistList {
			dst = append(dst, 2)
			dst = appendCString(dst, d.DistList)
		} else {
			dst = append(dst, 1)
			dst = appendAddr(dst, d.Address)
		}
	}
	dst = append(dst, b.ESMClass, b.ProtocolID, b.PriorityFlag)
	dst = appendCString(dst, b.ScheduleDeliveryTime)
	dst = appendCString(dst, b.ValidityPeriod)
	dst = append(dst, b.RegisteredDelivery, b.ReplaceIfPresent, b.DataCoding, b.SMDefaultMsgID)
	return appendText(dst, b.ShortMessage, b.TLVs)
}
