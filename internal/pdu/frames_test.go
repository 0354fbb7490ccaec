package pdu

import "strings"

// Hand-built frames for the decoder's edge cases. Each is also kept as a
// golden file under testdata/malformed or testdata/lenient.

// frame builds a PDU from a raw body, with a correct command_length.
func frame(cmd CommandID, st Status, seq uint32, body ...string) []byte {
	b := AppendHeader(nil, cmd, st, seq)
	for _, s := range body {
		b = append(b, s...)
	}
	putLength(b)
	return b
}

func z(s string) string { return s + "\x00" }

// smFields is a valid submit_sm/deliver_sm body, one entry per field, so a
// case can replace exactly one field.
func smFields(edit func(f []string)) []string {
	f := []string{
		z("CMT"), "\x01", "\x01", z("447700900001"), "\x01", "\x01", z("447700900123"),
		"\x00", "\x00", "\x00", z(""), z(""), "\x01", "\x00", "\x00", "\x00", "\x05", "hello",
	}
	if edit != nil {
		edit(f)
	}
	return f
}

// Indexes into smFields.
const (
	smServiceType = 0
	smSource      = 3
	smDest        = 6
	smPriority    = 9
	smSchedule    = 10
	smValidity    = 11
	smReplace     = 13
	smLength      = 16
	smText        = 17
)

func tlv(tag Tag, v string) string { return string(TLVs("").With(tag, v)) }

func bindFields(edit func(f []string)) []string {
	f := []string{z("user"), z("pass"), z("VMS"), "\x34", "\x01", "\x01", z("^447")}
	if edit != nil {
		edit(f)
	}
	return f
}

func multiFields(edit func(f []string)) []string {
	f := []string{z(""), "\x01", "\x01", z("447700900001"), "\x02",
		"\x01\x01\x01" + z("447700900123"), "\x02" + z("friends"),
		"\x00", "\x00", "\x00", z(""), z(""), "\x01", "\x00", "\x00", "\x00", "\x02", "hi"}
	if edit != nil {
		edit(f)
	}
	return f
}

func set(i int, v string) func([]string) { return func(f []string) { f[i] = v } }

var malformed = []struct {
	name   string
	frame  []byte
	field  string
	status Status
	err    error
}{
	{"bind_system_id_too_long", frame(CmdBindTransceiver, 0, 1, bindFields(set(0, z(strings.Repeat("u", 16))))...),
		"system_id", StatusInvSysID, ErrFieldTooLong},
	{"bind_password_too_long", frame(CmdBindTransmitter, 0, 1, bindFields(set(1, z("ninechars")))...),
		"password", StatusInvPaswd, ErrFieldTooLong},
	{"bind_system_type_too_long", frame(CmdBindReceiver, 0, 1, bindFields(set(2, z(strings.Repeat("t", 13))))...),
		"system_type", StatusInvSysTyp, ErrFieldTooLong},
	{"bind_address_range_too_long", frame(CmdBindTransceiver, 0, 1, bindFields(set(6, z(strings.Repeat("4", 41))))...),
		"address_range", StatusBindFail, ErrFieldTooLong},
	{"bind_truncated", frame(CmdBindTransceiver, 0, 1, z("user"), "pass"),
		"password", StatusInvMsgLen, ErrTruncated},
	{"bind_trailing_data", frame(CmdBindTransceiver, 0, 1, append(bindFields(nil), "X")...),
		"body", StatusInvMsgLen, ErrTrailingData},
	{"bind_resp_system_id_too_long", frame(CmdBindTransceiverResp, 0, 1, z(strings.Repeat("s", 16))),
		"system_id", StatusInvSysID, ErrFieldTooLong},
	{"outbind_password_too_long", frame(CmdOutbind, 0, 1, z("smsc"), z("ninechars")),
		"password", StatusInvPaswd, ErrFieldTooLong},

	{"submit_sm_empty_body", frame(CmdSubmitSM, 0, 2),
		"service_type", StatusInvMsgLen, ErrTruncated},
	{"submit_sm_service_type_too_long", frame(CmdSubmitSM, 0, 2, smFields(set(smServiceType, z("CMTXYZ")))...),
		"service_type", StatusInvSerTyp, ErrFieldTooLong},
	{"submit_sm_source_addr_too_long", frame(CmdSubmitSM, 0, 2, smFields(set(smSource, z(strings.Repeat("1", 21))))...),
		"source_addr", StatusInvSrcAdr, ErrFieldTooLong},
	{"submit_sm_destination_addr_too_long", frame(CmdSubmitSM, 0, 2, smFields(set(smDest, z(strings.Repeat("1", 21))))...),
		"destination_addr", StatusInvDstAdr, ErrFieldTooLong},
	{"submit_sm_schedule_not_16", frame(CmdSubmitSM, 0, 2, smFields(set(smSchedule, z("2611251805")))...),
		"schedule_delivery_time", StatusInvSched, ErrInvalidField},
	{"submit_sm_schedule_garbage_16", frame(CmdSubmitSM, 0, 2, smFields(set(smSchedule, z("abcdefghijklmnop")))...),
		"schedule_delivery_time", StatusInvSched, ErrInvalidField},
	{"submit_sm_schedule_month_13", frame(CmdSubmitSM, 0, 2, smFields(set(smSchedule, z("261325180500000+")))...),
		"schedule_delivery_time", StatusInvSched, ErrInvalidField},
	{"submit_sm_validity_garbage_16", frame(CmdSubmitSM, 0, 2, smFields(set(smValidity, z("0000010000000000")))...),
		"validity_period", StatusInvExpiry, ErrInvalidField},
	{"submit_sm_validity_too_long", frame(CmdSubmitSM, 0, 2, smFields(set(smValidity, z("000001000000000R0")))...),
		"validity_period", StatusInvExpiry, ErrFieldTooLong},
	{"submit_sm_sm_length_255", frame(CmdSubmitSM, 0, 2, smFields(func(f []string) {
		f[smLength], f[smText] = "\xff", strings.Repeat("x", 255)
	})...), "sm_length", StatusInvMsgLen, ErrFieldTooLong},
	{"submit_sm_sm_length_past_body", frame(CmdSubmitSM, 0, 2, smFields(set(smLength, "\x0a"))...),
		"short_message", StatusInvMsgLen, ErrTruncated},
	{"submit_sm_sm_length_short", frame(CmdSubmitSM, 0, 2, smFields(set(smLength, "\x03"))...),
		"optional parameters", StatusInvOptParStream, ErrTruncated},
	{"submit_sm_both_payloads", frame(CmdSubmitSM, 0, 2, append(smFields(nil), tlv(TagMessagePayload, "hello"))...),
		"sm_length", StatusInvMsgLen, ErrBothPayloads},
	{"submit_sm_tlv_past_body", frame(CmdSubmitSM, 0, 2, append(smFields(nil), "\x02\x04\x00\x0aabc")...),
		"optional parameter 0x0204", StatusInvOptParStream, ErrTruncated},
	{"submit_sm_tlv_partial_header", frame(CmdSubmitSM, 0, 2, append(smFields(nil), "\x02\x04")...),
		"optional parameters", StatusInvOptParStream, ErrTruncated},
	{"submit_sm_tlv_bad_length", frame(CmdSubmitSM, 0, 2, append(smFields(nil), tlv(TagSARMsgRefNum, "\x00\x01\x02"))...),
		"optional parameter 0x020C", StatusInvParLen, ErrInvalidField},
	{"submit_sm_priority_flag_4", frame(CmdSubmitSM, 0, 2, smFields(set(smPriority, "\x04"))...),
		"priority_flag", StatusInvPrtFlg, ErrInvalidField},
	{"submit_sm_replace_if_present_2", frame(CmdSubmitSM, 0, 2, smFields(set(smReplace, "\x02"))...),
		"replace_if_present_flag", StatusInvRepFlag, ErrInvalidField},
	{"deliver_sm_destination_addr_too_long", frame(CmdDeliverSM, 0, 3, smFields(set(smDest, z(strings.Repeat("9", 30))))...),
		"destination_addr", StatusInvDstAdr, ErrFieldTooLong},
	{"deliver_sm_message_state_bad_length", frame(CmdDeliverSM, 0, 3, append(smFields(nil), tlv(TagMessageState, ""))...),
		"optional parameter 0x0427", StatusInvParLen, ErrInvalidField},

	{"submit_multi_no_dests", frame(CmdSubmitMulti, 0, 4, multiFields(set(4, "\x00"))...),
		"number_of_dests", StatusInvNumDests, ErrInvalidField},
	{"submit_multi_255_dests", frame(CmdSubmitMulti, 0, 4, multiFields(set(4, "\xff"))...),
		"number_of_dests", StatusInvNumDests, ErrInvalidField},
	{"submit_multi_dests_past_body", frame(CmdSubmitMulti, 0, 4, multiFields(set(4, "\xc8"))...),
		"dest_address", StatusInvMsgLen, ErrTruncated},
	{"submit_multi_bad_dest_flag", frame(CmdSubmitMulti, 0, 4, multiFields(set(5, "\x03\x01\x01"+z("447700900123")))...),
		"dest_flag", StatusInvDestFlag, ErrInvalidField},
	{"submit_multi_dl_name_too_long", frame(CmdSubmitMulti, 0, 4, multiFields(set(6, "\x02"+z(strings.Repeat("d", 21))))...),
		"dl_name", StatusInvDLName, ErrFieldTooLong},
	{"submit_multi_priority_flag_255", frame(CmdSubmitMulti, 0, 4, multiFields(set(smPriority, "\xff"))...),
		"priority_flag", StatusInvPrtFlg, ErrInvalidField},
	{"submit_multi_resp_unsuccess_past_body", frame(CmdSubmitMultiResp, 0, 4, z("77"), "\x03", "\x01\x01", z("1"), "\x00\x00\x00\x0b"),
		"unsuccess_sme", StatusInvMsgLen, ErrTruncated},

	{"data_sm_source_addr_too_long", frame(CmdDataSM, 0, 5, z(""), "\x01\x01", z(strings.Repeat("1", 65)), "\x01\x01", z("2"), "\x00\x00\x00"),
		"source_addr", StatusInvSrcAdr, ErrFieldTooLong},
	{"query_sm_message_id_too_long", frame(CmdQuerySM, 0, 6, z(strings.Repeat("A", 65)), "\x01\x01", z("1")),
		"message_id", StatusInvMsgID, ErrFieldTooLong},
	{"query_sm_trailing_data", frame(CmdQuerySM, 0, 6, z("A"), "\x01\x01", z("1"), "\x00"),
		"body", StatusInvMsgLen, ErrTrailingData},
	{"cancel_sm_truncated", frame(CmdCancelSM, 0, 7, z("CMT"), z("A"), "\x01\x01", z("1"), "\x01"),
		"destination_addr_npi", StatusInvMsgLen, ErrTruncated},
	{"replace_sm_sm_length_short", frame(CmdReplaceSM, 0, 8, z("A"), "\x01\x01", z("1"), z(""), z(""), "\x00\x00", "\x02", "abc"),
		"body", StatusInvMsgLen, ErrTrailingData},
	{"alert_notification_esme_addr_too_long", frame(CmdAlertNotification, 0, 9, "\x01\x01", z("1"), "\x00\x00", z(strings.Repeat("e", 65))),
		"esme_addr", StatusInvDstAdr, ErrFieldTooLong},
}

// unknownFrames have a command_id this package does not know; Decode keeps
// the header so the server can answer generic_nack with the sequence.
var unknownFrames = []struct {
	name  string
	frame []byte
}{
	{"unknown_command", frame(0x00000099, 0, 0x01020304, "body")},
	{"unknown_response", frame(0x80000099, 0, 0x7fffffff)},
	{"unknown_command_error_status", frame(0x00010000, StatusSysErr, 5)},
}

// lenient frames decode although a strict reading would refuse them.
var lenient = []struct {
	name  string
	frame []byte
	want  Body
}{
	{"deliver_sm_resp_header_only", frame(CmdDeliverSMResp, 0, 1), &DeliverSMResp{}},
	{"submit_sm_resp_error_with_body", frame(CmdSubmitSMResp, StatusThrottled, 2, z("ignored")), &SubmitSMResp{}},
	{"bind_transceiver_resp_error_with_body", frame(CmdBindTransceiverResp, StatusInvPaswd, 3, z("smsc")),
		&BindResp{Command: CmdBindTransceiverResp}},
	{"submit_sm_resp_trailing_data", frame(CmdSubmitSMResp, 0, 4, z("ABC"), "\x14\x03\x00"), &SubmitSMResp{MessageID: "ABC"}},
	{"enquire_link_with_body", frame(CmdEnquireLink, 0, 5, "junk"), &EnquireLink{}},
	{"generic_nack_with_body", frame(CmdGenericNack, StatusInvCmdLen, 6, "junk"), &GenericNack{}},
	{"data_sm_64_octet_addresses", frame(CmdDataSM, 0, 7, z(""), "\x01\x01", z(strings.Repeat("1", 64)), "\x01\x01", z(strings.Repeat("2", 64)), "\x00\x00\x00"),
		&DataSM{Source: Address{1, 1, strings.Repeat("1", 64)}, Dest: Address{1, 1, strings.Repeat("2", 64)}}},
	{"submit_sm_sm_length_254", frame(CmdSubmitSM, 0, 8, smFields(func(f []string) {
		f[smLength], f[smText] = "\xfe", strings.Repeat("x", 254)
	})...), &SubmitSM{SM{ServiceType: "CMT", Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"},
		RegisteredDelivery: 1, ShortMessage: strings.Repeat("x", 254)}}},
	{"deliver_sm_priority_flag_4", frame(CmdDeliverSM, 0, 10, smFields(set(smPriority, "\x04"))...),
		&DeliverSM{SM{ServiceType: "CMT", Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"},
			PriorityFlag: 4, RegisteredDelivery: 1, ShortMessage: "hello"}}},
	{"submit_sm_unknown_tlv_kept", frame(CmdSubmitSM, 0, 9, append(smFields(nil), tlv(0x1400, "vendor"))...),
		&SubmitSM{SM{ServiceType: "CMT", Source: Address{1, 1, "447700900001"}, Dest: Address{1, 1, "447700900123"},
			RegisteredDelivery: 1, ShortMessage: "hello", TLVs: TLVs(tlv(0x1400, "vendor"))}}},
}
