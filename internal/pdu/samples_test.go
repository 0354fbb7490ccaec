package pdu

// samples holds one well-formed PDU per command (requests and responses),
// shared by the round-trip, golden and cross-check tests.
var samples = []struct {
	name string
	pdu  PDU
}{
	{"bind_transmitter", pdu(CmdBindTransmitter, 0, 1, &Bind{Command: CmdBindTransmitter,
		SystemID: "testuser", Password: "testpass", SystemType: "VMS", InterfaceVersion: 0x34,
		AddrTON: 1, AddrNPI: 1, AddressRange: "^447"})},
	{"bind_receiver", pdu(CmdBindReceiver, 0, 2, &Bind{Command: CmdBindReceiver,
		SystemID: "fifteen-chars-x", Password: "eightchr", SystemType: "twelve-chars", InterfaceVersion: 0x34})},
	{"bind_transceiver", pdu(CmdBindTransceiver, 0, 3, &Bind{Command: CmdBindTransceiver,
		SystemID: "u", InterfaceVersion: 0x34})},
	{"bind_transmitter_resp", pdu(CmdBindTransmitterResp, 0, 1, &BindResp{Command: CmdBindTransmitterResp, SystemID: "gateway"})},
	{"bind_receiver_resp", pdu(CmdBindReceiverResp, 0, 2, &BindResp{Command: CmdBindReceiverResp, SystemID: "gateway",
		TLVs: TLVs("").WithUint8(TagSCInterfaceVersion, 0x34)})},
	{"bind_transceiver_resp", pdu(CmdBindTransceiverResp, 0, 3, &BindResp{Command: CmdBindTransceiverResp, SystemID: "gateway"})},
	{"bind_transceiver_resp_error", pdu(CmdBindTransceiverResp, StatusInvPaswd, 4, &BindResp{Command: CmdBindTransceiverResp})},
	{"outbind", pdu(CmdOutbind, 0, 5, &Outbind{SystemID: "smsc", Password: "secret"})},
	{"unbind", pdu(CmdUnbind, 0, 6, &Unbind{})},
	{"unbind_resp", pdu(CmdUnbindResp, 0, 6, &UnbindResp{})},
	{"enquire_link", pdu(CmdEnquireLink, 0, 7, &EnquireLink{})},
	{"enquire_link_resp", pdu(CmdEnquireLinkResp, 0, 7, &EnquireLinkResp{})},
	{"generic_nack", pdu(CmdGenericNack, StatusInvCmdID, 8, &GenericNack{})},
	{"submit_sm", pdu(CmdSubmitSM, 0, 9, &SubmitSM{SM{ServiceType: "CMT",
		Source: Address{5, 0, "Gateway"}, Dest: Address{1, 1, "447700900123"},
		ESMClass: 0, ProtocolID: 0, PriorityFlag: 1, ValidityPeriod: "000001000000000R",
		RegisteredDelivery: 1, DataCoding: 0, ShortMessage: "Hello, world",
		TLVs: TLVs("").WithUint16(TagSARMsgRefNum, 0x1234).WithUint8(TagSARTotalSegments, 2).WithUint8(TagSARSegmentSeqnum, 1)}})},
	{"submit_sm_payload", pdu(CmdSubmitSM, 0, 10, &SubmitSM{SM{
		Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"},
		ScheduleDeliveryTime: "261125180500000+", DataCoding: 8,
		TLVs: TLVs("").With(TagMessagePayload, string(make([]byte, 300)))}})},
	{"submit_sm_resp", pdu(CmdSubmitSMResp, 0, 9, &SubmitSMResp{MessageID: "0123456789ABCDEF"})},
	{"submit_sm_resp_error", pdu(CmdSubmitSMResp, StatusThrottled, 11, &SubmitSMResp{})},
	{"deliver_sm_receipt", pdu(CmdDeliverSM, 0, 12, receipt())},
	{"deliver_sm_resp", pdu(CmdDeliverSMResp, 0, 12, &DeliverSMResp{})},
	{"deliver_sm_resp_error", pdu(CmdDeliverSMResp, StatusXTAppn, 13, &DeliverSMResp{})},
	{"data_sm", pdu(CmdDataSM, 0, 14, &DataSM{ServiceType: "WAP",
		Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"},
		ESMClass: 0, RegisteredDelivery: 1, DataCoding: 4,
		TLVs: TLVs("").With(TagMessagePayload, "data").WithUint16(TagSourcePort, 2948)})},
	{"data_sm_resp", pdu(CmdDataSMResp, 0, 14, &DataSMResp{MessageID: "42",
		TLVs: TLVs("").WithUint8(TagDeliveryFailureReason, 1)})},
	{"submit_multi", pdu(CmdSubmitMulti, 0, 15, &SubmitMulti{ServiceType: "",
		Source: Address{1, 1, "447700900001"},
		Dests: []DestAddress{{Address: Address{1, 1, "447700900123"}}, {IsDistList: true, DistList: "friends"},
			{Address: Address{2, 8, "1234"}}},
		RegisteredDelivery: 1, ShortMessage: "to many"})},
	{"submit_multi_resp", pdu(CmdSubmitMultiResp, 0, 15, &SubmitMultiResp{MessageID: "77",
		Unsuccess: []UnsuccessSME{{Address{2, 8, "1234"}, StatusInvDstAdr}}})},
	{"submit_multi_resp_all_ok", pdu(CmdSubmitMultiResp, 0, 16, &SubmitMultiResp{MessageID: "78"})},
	{"query_sm", pdu(CmdQuerySM, 0, 17, &QuerySM{MessageID: "0123456789ABCDEF", Source: Address{1, 1, "447700900001"}})},
	{"query_sm_resp", pdu(CmdQuerySMResp, 0, 17, &QuerySMResp{MessageID: "0123456789ABCDEF",
		FinalDate: "261125180500000+", MessageState: StateDelivered, ErrorCode: 0})},
	{"cancel_sm", pdu(CmdCancelSM, 0, 18, &CancelSM{ServiceType: "CMT", MessageID: "0123456789ABCDEF",
		Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"}})},
	{"cancel_sm_resp", pdu(CmdCancelSMResp, 0, 18, &CancelSMResp{})},
	{"replace_sm", pdu(CmdReplaceSM, 0, 19, &ReplaceSM{MessageID: "0123456789ABCDEF",
		Source: Address{1, 1, "447700900001"}, ValidityPeriod: "000002000000000R",
		RegisteredDelivery: 1, ShortMessage: "replaced"})},
	{"replace_sm_resp", pdu(CmdReplaceSMResp, 0, 19, &ReplaceSMResp{})},
	{"alert_notification", pdu(CmdAlertNotification, 0, 20, &AlertNotification{
		Source: Address{1, 1, "447700900123"}, ESMEAddr: Address{0, 0, "esme"},
		TLVs: TLVs("").WithUint8(0x0422, 0)})},
}

func pdu(c CommandID, st Status, seq uint32, b Body) PDU {
	return PDU{Header: Header{Command: c, Status: st, Sequence: seq}, Body: b}
}

const receiptText = "id:0123456789ABCDEF sub:001 dlvrd:000 submit date:2611251805 done date:2611251805 stat:DELIVRD err:003 text:"

// receipt is a delivery receipt as the README describes it.
func receipt() *DeliverSM {
	return &DeliverSM{SM{
		Source: Address{1, 1, "447700900123"}, Dest: Address{5, 0, "Gateway"},
		ESMClass: 0x04, ShortMessage: receiptText,
		TLVs: TLVs("").WithCString(TagReceiptedMessageID, "0123456789ABCDEF").
			WithUint8(TagMessageState, uint8(StateDelivered)).
			With(TagNetworkErrorCode, "\x03\x00\x03"),
	}}
}
