package bench

import (
	"bytes"
	"encoding/binary"
	"time"
)

// The few SMPP v3.4 values the responder reads and writes, spelled out
// here so the responder shares no code with the gateway's codec.
const (
	cmdGenericNack     = 0x80000000
	cmdBindReceiver    = 0x00000001
	cmdBindTransmitter = 0x00000002
	cmdSubmitSM        = 0x00000004
	cmdDeliverSM       = 0x00000005
	cmdUnbind          = 0x00000006
	cmdBindTransceiver = 0x00000009
	cmdEnquireLink     = 0x00000015
	respBit            = 0x80000000

	statusInvMsgLen = 0x00000001
	statusInvCmdLen = 0x00000002
	statusInvCmdID  = 0x00000003

	tagReceiptedMessageID = 0x001E
	tagMessageState       = 0x0427
	stateDelivered        = 2

	headerLen = 16
	// maxCommandLength is the gateway's default bound; anything longer
	// means the stream is not SMPP (or not in step) and is closed.
	maxCommandLength = 64 << 10
	// messageIDLen is the gateway's id format: 16 uppercase hex digits.
	messageIDLen = 16

	responderSystemID = "bench-responder"
)

// header is the decoded 16-octet PDU header.
type header struct {
	length, command, status, sequence uint32
}

func parseHeader(b []byte) header {
	return header{
		length:   binary.BigEndian.Uint32(b[0:]),
		command:  binary.BigEndian.Uint32(b[4:]),
		status:   binary.BigEndian.Uint32(b[8:]),
		sequence: binary.BigEndian.Uint32(b[12:]),
	}
}

// appendHeader appends a header whose command_length is patched by
// finish once the body is appended.
func appendHeader(b []byte, command, status, seq uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, headerLen)
	b = binary.BigEndian.AppendUint32(b, command)
	b = binary.BigEndian.AppendUint32(b, status)
	return binary.BigEndian.AppendUint32(b, seq)
}

// finish writes the length of the PDU that starts at start.
func finish(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendBindResp answers a bind with ESME_ROK and the responder's system_id.
func appendBindResp(b []byte, command, seq uint32) []byte {
	start := len(b)
	b = appendHeader(b, command|respBit, 0, seq)
	b = append(b, responderSystemID...)
	return finish(append(b, 0), start)
}

const hexDigits = "0123456789ABCDEF"

// appendID appends id as 16 uppercase hex digits.
func appendID(b []byte, id uint64) []byte {
	var d [messageIDLen]byte
	for i := messageIDLen - 1; i >= 0; i-- {
		d[i] = hexDigits[id&0xF]
		id >>= 4
	}
	return append(b, d[:]...)
}

// appendSubmitResp answers a submit_sm with ESME_ROK and the message id.
func appendSubmitResp(b []byte, seq uint32, id uint64) []byte {
	start := len(b)
	b = appendHeader(b, cmdSubmitSM|respBit, 0, seq)
	b = appendID(b, id)
	return finish(append(b, 0), start)
}

// cstring returns the length of the C-octet string at the start of b,
// its NUL included, or -1 when b holds no NUL within limit octets.
func cstring(b []byte, limit int) int {
	n := bytes.IndexByte(b[:min(len(b), limit)], 0)
	if n < 0 {
		return -1
	}
	return n + 1
}

// submitAddresses returns the source and destination of a submit_sm body,
// each as it is on the wire (TON, NPI, address, NUL), so a receipt can
// copy them swapped. ok is false for a body too short or a string too long.
func submitAddresses(body []byte) (src, dst []byte, ok bool) {
	i := cstring(body, 6) // service_type
	if i < 0 {
		return nil, nil, false
	}
	src, ok = address(body[i:])
	if !ok {
		return nil, nil, false
	}
	dst, ok = address(body[i+len(src):])
	return src, dst, ok
}

// address takes TON, NPI and a C-octet string of at most 21 octets.
func address(b []byte) ([]byte, bool) {
	if len(b) < 3 {
		return nil, false
	}
	n := cstring(b[2:], 21)
	if n < 0 {
		return nil, false
	}
	return b[:2+n], true
}

// receiptDate is YYMMDDhhmm in UTC, formatted once a minute: the reader
// that builds receipts owns one.
type receiptDate struct {
	minute int64
	text   [10]byte
}

func (d *receiptDate) at(now time.Time) []byte {
	if m := now.Unix() / 60; m != d.minute || d.text[0] == 0 {
		d.minute = m
		now.UTC().AppendFormat(d.text[:0], "0601021504")
	}
	return d.text[:]
}

// appendReceipt appends the DELIVRD deliver_sm (the README's receipt) (err 000) for a
// message accepted as id: addresses swapped from the submit, esm_class
// 0x04, the receipt text, receipted_message_id and message_state.
func appendReceipt(b []byte, seq uint32, id uint64, submitSrc, submitDst, date []byte) []byte {
	start := len(b)
	b = appendHeader(b, cmdDeliverSM, 0, seq)
	b = append(b, 0) // service_type
	b = append(b, submitDst...)
	b = append(b, submitSrc...)
	// esm_class, protocol_id, priority_flag, schedule_delivery_time,
	// validity_period, registered_delivery, replace_if_present_flag,
	// data_coding, sm_default_msg_id.
	b = append(b, 0x04, 0, 0, 0, 0, 0, 0, 0, 0)
	lenAt := len(b)
	b = append(b, 0) // sm_length, patched below
	b = append(b, "id:"...)
	b = appendID(b, id)
	b = append(b, " sub:001 dlvrd:000 submit date:"...)
	b = append(b, date...)
	b = append(b, " done date:"...)
	b = append(b, date...)
	b = append(b, " stat:DELIVRD err:000 text:"...)
	b[lenAt] = byte(len(b) - lenAt - 1)
	b = binary.BigEndian.AppendUint16(b, tagReceiptedMessageID)
	b = binary.BigEndian.AppendUint16(b, messageIDLen+1)
	b = append(appendID(b, id), 0)
	b = binary.BigEndian.AppendUint16(b, tagMessageState)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, stateDelivered)
	return finish(b, start)
}
