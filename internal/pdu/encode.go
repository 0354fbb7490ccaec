package pdu

// Append appends the encoding of p to dst and returns the extended slice.
// command_length is computed and p.Length ignored. The command_id written
// is p.Command, or the body's command when p.Command is zero; the body's
// type decides how the body is encoded. A response with a non-zero status,
// and generic_nack, are encoded as the bare 16-octet header.
//
// Encoding never fails: fields are written as given (C-octet strings with
// their NUL). A short_message over 254 octets is never written with a
// wrapped sm_length: it travels as message_payload (see appendText).
// Keeping the other fields within the limits of the specification, which
// Decode enforces, is the caller's job. With enough capacity in dst it does not allocate.
func Append(dst []byte, p PDU) []byte {
	cmd := p.Command
	if cmd == 0 && p.Body != nil {
		cmd = p.Body.CommandID()
	}
	start := len(dst)
	dst = appendHeader(dst, cmd, p.Status, p.Sequence)
	if cmd != CmdGenericNack && !(cmd.IsResponse() && p.Status != StatusOK) {
		dst = appendBody(dst, p.Body)
	}
	putLength(dst[start:])
	return dst
}

// AppendHeader appends a header-only PDU (enquire_link, unbind, their
// responses, generic_nack, any error response).
func AppendHeader(dst []byte, cmd CommandID, status Status, seq uint32) []byte {
	start := len(dst)
	dst = appendHeader(dst, cmd, status, seq)
	putLength(dst[start:])
	return dst
}

// AppendSubmitSMResp appends a submit_sm_resp without boxing a Body: the
// server's hot path. With a non-zero status messageID is not written.
func AppendSubmitSMResp(dst []byte, seq uint32, status Status, messageID string) []byte {
	start := len(dst)
	dst = appendHeader(dst, CmdSubmitSMResp, status, seq)
	if status == StatusOK {
		dst = appendCString(dst, messageID)
	}
	putLength(dst[start:])
	return dst
}

func appendHeader(dst []byte, cmd CommandID, status Status, seq uint32) []byte {
	dst = appendU32(dst, HeaderLen)
	dst = appendU32(dst, uint32(cmd))
	dst = appendU32(dst, uint32(status))
	return appendU32(dst, seq)
}

// putLength writes command_length into a PDU that has just been appended.
func putLength(pdu []byte) {
	n := len(pdu)
	pdu[0], pdu[1], pdu[2], pdu[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

func appendU32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendCString(dst []byte, s string) []byte {
	dst = append(dst, s...)
	return append(dst, 0)
}

func appendAddr(dst []byte, a Address) []byte {
	dst = append(dst, a.TON, a.NPI)
	return appendCString(dst, a.Addr)
}

// appendShortMessage writes sm_length and short_message. The length is
// never wrapped: submit_sm, deliver_sm and submit_multi move a longer text
// to message_payload (appendText); replace_sm, which has no optional
// parameters, sends at most the first 254 octets.
func appendShortMessage(dst []byte, sm string) []byte {
	sm = sm[:min(len(sm), MaxShortMessage)]
	dst = append(dst, byte(len(sm)))
	return append(dst, sm...)
}
