package pdu

import "fmt"

// Decode decodes one complete PDU (header included). On an unknown command
// or a body that does not decode it still returns the header, so the caller
// can answer with the right sequence number; Body is then nil.
//
// The body is copied into one string and every string field, the short
// message and the optional parameters are substrings of it: a decoded PDU
// costs two allocations (that string and the body struct; for a submit_sm
// DecodeInto saves the second) and shares nothing with frame.
//
// Responses are read leniently, requests strictly. A response with a
// non-zero status, or with an empty body, decodes to its body type with zero
// fields (some peers send error responses with a body, some send
// deliver_sm_resp as a bare header); data after the last field of a
// response is ignored. A request with data after its last field (where the
// specification has no optional parameters) is rejected with
// ESME_RINVMSGLEN; the header-only requests ignore any body.
func Decode(frame []byte) (PDU, error) { return decode(frame, nil) }

// DecodeInto is Decode for a caller that keeps a submit_sm's body in a
// struct of its own (a server's request, say): a submit_sm's body is
// decoded into *sm, which the returned PDU's Body then points to, instead
// of a new allocation. *sm is written only when the body decodes; any
// other command decodes exactly as with Decode and leaves *sm alone. The
// strings are copies, as with Decode: nothing aliases frame.
func DecodeInto(frame []byte, sm *SubmitSM) (PDU, error) { return decode(frame, sm) }

// decode decodes frame; a submit_sm's body goes into *into when into is
// not nil.
func decode(frame []byte, into *SubmitSM) (PDU, error) {
	if len(frame) < HeaderLen {
		fe := &FrameError{Length: uint32(len(frame))}
		if len(frame) >= 4 {
			fe.Length = be32(frame)
		}
		return PDU{}, fe
	}
	p := PDU{Header: Header{
		Length:   be32(frame),
		Command:  CommandID(be32(frame[4:])),
		Status:   Status(be32(frame[8:])),
		Sequence: be32(frame[12:]),
	}}
	if int64(p.Length) != int64(len(frame)) {
		return p, &FrameError{Length: p.Length, Command: p.Command, Sequence: p.Sequence}
	}
	if b := headerOnlyBody(p.Command); b != nil {
		p.Body = b
		return p, nil
	}
	body := frame[HeaderLen:]
	if p.Command.IsResponse() && (p.Status != StatusOK || len(body) == 0) {
		p.Body = zeroBody(p.Command)
		if p.Body == nil {
			return p, unknown(p.Command)
		}
		return p, nil
	}
	r := reader{s: string(body)}
	var b Body
	switch p.Command {
	case CmdBindTransmitter, CmdBindReceiver, CmdBindTransceiver:
		b = decodeBind(&r, p.Command)
	case CmdBindTransmitterResp, CmdBindReceiverResp, CmdBindTransceiverResp:
		b = decodeBindResp(&r, p.Command)
	case CmdOutbind:
		b = decodeOutbind(&r)
	case CmdSubmitSM:
		sm := decodeSM(&r)
		checkSubmitFlags(&r, sm.PriorityFlag, sm.ReplaceIfPresent)
		if r.err == nil {
			if into == nil {
				into = new(SubmitSM)
			}
			into.SM = sm
			b = into
		}
	case CmdDeliverSM:
		sm := decodeSM(&r)
		if r.err == nil {
			b = &DeliverSM{sm}
		}
	case CmdSubmitSMResp:
		id := r.cstring("message_id", maxMessageID, StatusInvMsgID)
		if r.err == nil {
			b = &SubmitSMResp{MessageID: id}
		}
	case CmdDeliverSMResp:
		id := r.cstring("message_id", maxMessageID, StatusInvMsgID)
		if r.err == nil {
			b = &DeliverSMResp{MessageID: id}
		}
	case CmdDataSM:
		b = decodeDataSM(&r)
	case CmdDataSMResp:
		b = decodeDataSMResp(&r)
	case CmdSubmitMulti:
		b = decodeSubmitMulti(&r)
	case CmdSubmitMultiResp:
		b = decodeSubmitMultiResp(&r)
	case CmdQuerySM:
		b = decodeQuerySM(&r)
	case CmdQuerySMResp:
		b = decodeQuerySMResp(&r)
	case CmdCancelSM:
		b = decodeCancelSM(&r)
	case CmdReplaceSM:
		b = decodeReplaceSM(&r)
	case CmdAlertNotification:
		b = decodeAlertNotification(&r)
	default:
		return p, unknown(p.Command)
	}
	if r.err != nil {
		return p, r.err
	}
	p.Body = b
	return p, nil
}

func unknown(c CommandID) error {
	return fmt.Errorf("%w 0x%08X", ErrUnknownCommand, uint32(c))
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// headerOnlyBody returns the body of the commands that never have one.
// Pointers to zero-size values do not allocate.
func headerOnlyBody(c CommandID) Body {
	switch c {
	case CmdGenericNack:
		return &GenericNack{}
	case CmdUnbind:
		return &Unbind{}
	case CmdUnbindResp:
		return &UnbindResp{}
	case CmdEnquireLink:
		return &EnquireLink{}
	case CmdEnquireLinkResp:
		return &EnquireLinkResp{}
	case CmdCancelSMResp:
		return &CancelSMResp{}
	case CmdReplaceSMResp:
		return &ReplaceSMResp{}
	}
	return nil
}

// zeroBody returns the empty body of response c, nil when c is unknown.
func zeroBody(c CommandID) Body {
	switch c {
	case CmdBindTransmitterResp, CmdBindReceiverResp, CmdBindTransceiverResp:
		return &BindResp{Command: c}
	case CmdSubmitSMResp:
		return &SubmitSMResp{}
	case CmdDeliverSMResp:
		return &DeliverSMResp{}
	case CmdDataSMResp:
		return &DataSMResp{}
	case CmdSubmitMultiResp:
		return &SubmitMultiResp{}
	case CmdQuerySMResp:
		return &QuerySMResp{}
	}
	return headerOnlyBody(c)
}
