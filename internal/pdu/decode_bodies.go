package pdu

// The body decoders read fields in wire order (SMPP v3.4 section 4) and
// return nil when the reader failed; Decode then returns the reader's error.

func decodeBind(r *reader, c CommandID) Body {
	b := Bind{Command: c}
	b.SystemID = r.cstring("system_id", maxSystemID, StatusInvSysID)
	b.Password = r.cstring("password", maxPassword, StatusInvPaswd)
	b.SystemType = r.cstring("system_type", maxSystemType, StatusInvSysTyp)
	b.InterfaceVersion = r.u8("interface_version")
	b.AddrTON = r.u8("addr_ton")
	b.AddrNPI = r.u8("addr_npi")
	// No status names address_range; the bind as a whole fails.
	b.AddressRange = r.cstring("address_range", maxAddressRange, StatusBindFail)
	r.end()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeBindResp(r *reader, c CommandID) Body {
	b := BindResp{Command: c}
	b.SystemID = r.cstring("system_id", maxSystemID, StatusInvSysID)
	b.TLVs = r.tlvs()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeOutbind(r *reader) Body {
	var b Outbind
	b.SystemID = r.cstring("system_id", maxSystemID, StatusInvSysID)
	b.Password = r.cstring("password", maxPassword, StatusInvPaswd)
	r.end()
	if r.err != nil {
		return nil
	}
	return &b
}

// decodeSM reads the body shared by submit_sm and deliver_sm.
func decodeSM(r *reader) SM {
	var m SM
	m.ServiceType = r.cstring("service_type", maxServiceType, StatusInvSerTyp)
	m.Source = r.addr("source_addr", maxAddr, StatusInvSrcAdr)
	m.Dest = r.addr("destination_addr", maxAddr, StatusInvDstAdr)
	m.ESMClass = r.u8("esm_class")
	m.ProtocolID = r.u8("protocol_id")
	m.PriorityFlag = r.u8("priority_flag")
	m.ScheduleDeliveryTime = r.time("schedule_delivery_time", StatusInvSched)
	m.ValidityPeriod = r.time("validity_period", StatusInvExpiry)
	m.RegisteredDelivery = r.u8("registered_delivery")
	m.ReplaceIfPresent = r.u8("replace_if_present_flag")
	m.DataCoding = r.u8("data_coding")
	m.SMDefaultMsgID = r.u8("sm_default_msg_id")
	m.ShortMessage = r.shortMessage()
	m.TLVs = r.tlvs()
	checkPayload(r, m.ShortMessage, m.TLVs)
	return m
}

// checkSubmitFlags refuses the values SMPP v3.4 reserves in a submitted
// message's flags (section 5.2.14 and 5.2.18): priority levels 0-3, and
// replace_if_present_flag 0 or 1. A deliver_sm is read as sent: what an
// SMSC marks is not the reader's to refuse.
func checkSubmitFlags(r *reader, priority, replace uint8) {
	switch {
	case r.err != nil:
	case priority > maxPriorityFlag:
		r.fail("priority_flag", StatusInvPrtFlg, ErrInvalidField)
	case replace > 1:
		r.fail("replace_if_present_flag", StatusInvRepFlag, ErrInvalidField)
	}
}

// checkPayload rejects a message carried twice: the specification wants
// sm_length 0 when message_payload is present.
func checkPayload(r *reader, sm string, t TLVs) {
	if r.err != nil || sm == "" {
		return
	}
	if _, ok := t.Get(TagMessagePayload); ok {
		r.fail("sm_length", StatusInvMsgLen, ErrBothPayloads)
	}
}

func decodeDataSM(r *reader) Body {
	var b DataSM
	b.ServiceType = r.cstring("service_type", maxServiceType, StatusInvSerTyp)
	b.Source = r.addr("source_addr", maxAddrLong, StatusInvSrcAdr)
	b.Dest = r.addr("destination_addr", maxAddrLong, StatusInvDstAdr)
	b.ESMClass = r.u8("esm_class")
	b.RegisteredDelivery = r.u8("registered_delivery")
	b.DataCoding = r.u8("data_coding")
	b.TLVs = r.tlvs()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeDataSMResp(r *reader) Body {
	var b DataSMResp
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	b.TLVs = r.tlvs()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeSubmitMulti(r *reader) Body {
	var b SubmitMulti
	b.ServiceType = r.cstring("service_type", maxServiceType, StatusInvSerTyp)
	b.Source = r.addr("source_addr", maxAddr, StatusInvSrcAdr)
	n := int(r.u8("number_of_dests"))
	if r.err != nil {
		return nil
	}
	if n == 0 || n > MaxDests {
		r.fail("number_of_dests", StatusInvNumDests, ErrInvalidField)
		return nil
	}
	// Every destination takes at least a flag and a NUL: check before
	// allocating room for n of them.
	if 2*n > len(r.s)-r.off {
		r.fail("dest_address", StatusInvMsgLen, ErrTruncated)
		return nil
	}
	b.Dests = make([]DestAddress, n)
	for i := range b.Dests {
		d := &b.Dests[i]
		switch flag := r.u8("dest_flag"); {
		case r.err != nil:
			return nil
		case flag == 1:
			d.Address = r.addr("destination_addr", maxAddr, StatusInvDstAdr)
		case flag == 2:
			d.IsDistList = true
			d.DistList = r.cstring("dl_name", maxDLName, StatusInvDLName)
		default:
			r.fail("dest_flag", StatusInvDestFlag, ErrInvalidField)
			return nil
		}
	}
	b.ESMClass = r.u8("esm_class")
	b.ProtocolID = r.u8("protocol_id")
	b.PriorityFlag = r.u8("priority_flag")
	b.ScheduleDeliveryTime = r.time("schedule_delivery_time", StatusInvSched)
	b.ValidityPeriod = r.time("validity_period", StatusInvExpiry)
	b.RegisteredDelivery = r.u8("registered_delivery")
	b.ReplaceIfPresent = r.u8("replace_if_present_flag")
	b.DataCoding = r.u8("data_coding")
	b.SMDefaultMsgID = r.u8("sm_default_msg_id")
	b.ShortMessage = r.shortMessage()
	b.TLVs = r.tlvs()
	checkPayload(r, b.ShortMessage, b.TLVs)
	checkSubmitFlags(r, b.PriorityFlag, b.ReplaceIfPresent)
	if r.err != nil {
		return nil
	}
	return &b
}

// unsuccessMinLen is the smallest unsuccess_sme: TON, NPI, an empty
// address and a 4-octet status.
const unsuccessMinLen = 7

func decodeSubmitMultiResp(r *reader) Body {
	var b SubmitMultiResp
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	n := int(r.u8("no_unsuccess"))
	if r.err != nil {
		return nil
	}
	if n > 0 {
		if unsuccessMinLen*n > len(r.s)-r.off {
			r.fail("unsuccess_sme", StatusInvMsgLen, ErrTruncated)
			return nil
		}
		b.Unsuccess = make([]UnsuccessSME, n)
		for i := range b.Unsuccess {
			u := &b.Unsuccess[i]
			u.Address = r.addr("destination_addr", maxAddr, StatusInvDstAdr)
			u.Status = Status(r.u32("error_status_code"))
		}
	}
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeQuerySM(r *reader) Body {
	var b QuerySM
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	b.Source = r.addr("source_addr", maxAddr, StatusInvSrcAdr)
	r.end()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeQuerySMResp(r *reader) Body {
	var b QuerySMResp
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	// No status names final_date; like any malformed body it is
	// ESME_RINVMSGLEN.
	b.FinalDate = r.time("final_date", StatusInvMsgLen)
	b.MessageState = MessageState(r.u8("message_state"))
	b.ErrorCode = r.u8("error_code")
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeCancelSM(r *reader) Body {
	var b CancelSM
	b.ServiceType = r.cstring("service_type", maxServiceType, StatusInvSerTyp)
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	b.Source = r.addr("source_addr", maxAddr, StatusInvSrcAdr)
	b.Dest = r.addr("destination_addr", maxAddr, StatusInvDstAdr)
	r.end()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeReplaceSM(r *reader) Body {
	var b ReplaceSM
	b.MessageID = r.cstring("message_id", maxMessageID, StatusInvMsgID)
	b.Source = r.addr("source_addr", maxAddr, StatusInvSrcAdr)
	b.ScheduleDeliveryTime = r.time("schedule_delivery_time", StatusInvSched)
	b.ValidityPeriod = r.time("validity_period", StatusInvExpiry)
	b.RegisteredDelivery = r.u8("registered_delivery")
	b.SMDefaultMsgID = r.u8("sm_default_msg_id")
	b.ShortMessage = r.shortMessage()
	r.end()
	if r.err != nil {
		return nil
	}
	return &b
}

func decodeAlertNotification(r *reader) Body {
	var b AlertNotification
	b.Source = r.addr("source_addr", maxAddrLong, StatusInvSrcAdr)
	b.ESMEAddr = r.addr("esme_addr", maxAddrLong, StatusInvDstAdr)
	b.TLVs = r.tlvs()
	if r.err != nil {
		return nil
	}
	return &b
}
