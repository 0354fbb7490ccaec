package dlr

import (
	"strconv"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Receipt is one pending delivery receipt: what the gateway promised when it
// answered a submit_sm with ESME_ROK and a message id.
type Receipt struct {
	MessageID   string      // 16 uppercase hex characters
	SystemID    string      // account that submitted the message
	Source      pdu.Address // the submit_sm's source_addr
	Dest        pdu.Address // the submit_sm's destination_addr
	SubmittedAt time.Time   // when the submit_sm was accepted
	Err         string      // three-digit receipt err, e.g. "003"
	Reason      string      // invalid_number, timeout, hlr_error or a provider reason
	DueAt       time.Time   // when to send it (SubmittedAt + DLR_DELAY_SECONDS)
	ExpiresAt   time.Time   // when to give up (SubmittedAt + DLR_TTL_SECONDS); zero: never
	Attempts    int         // deliver_sm attempts that failed so far

	// memRef is a hint set by MemoryQueue.Claim: the number of the entry
	// the receipt came from, plus one (0: none). Ack tries that entry
	// before the id index; the hint is ignored unless the entry is live
	// and holds this id.
	memRef uint32
}

// receiptDateLayout is the YYMMDDhhmm layout of "submit date" and "done date".
const receiptDateLayout = "0601021504"

// Text returns the receipt text of the README, byte for byte:
//
//	id:{id} sub:001 dlvrd:000 submit date:{YYMMDDhhmm} done date:{YYMMDDhhmm} stat:DELIVRD err:{err} text:
//
// Both dates are in UTC; done is the time the receipt is sent.
func (r Receipt) Text(done time.Time) string {
	return string(r.appendText(make([]byte, 0, 96+len(r.MessageID)+len(r.Err)), done, nil))
}

// appendText appends the receipt text; st, when not nil, keeps the dates'
// text from one receipt to the next.
func (r *Receipt) appendText(b []byte, done time.Time, st *dateStamps) []byte {
	var own dateStamps
	if st == nil {
		st = &own
	}
	b = append(b, "id:"...)
	b = append(b, r.MessageID...)
	b = append(b, " sub:001 dlvrd:000 submit date:"...)
	b = st.submit.append(b, r.SubmittedAt)
	b = append(b, " done date:"...)
	b = st.done.append(b, done)
	b = append(b, " stat:DELIVRD err:"...)
	b = append(b, r.Err...)
	return append(b, " text:"...)
}

// dateStamps keeps the last "submit date" and "done date" text: receipts
// sent together share the done date and mostly the submit date's minute,
// so formatting them once per minute instead of per receipt saves the
// sender's loop two time formats per receipt.
type dateStamps struct{ submit, done minuteStamp }

// minuteStamp is the YYMMDDhhmm text of one UTC minute.
type minuteStamp struct {
	minute int64 // unix minutes; valid only when set
	set    bool
	text   [len(receiptDateLayout)]byte
}

func (m *minuteStamp) append(b []byte, t time.Time) []byte {
	minute := t.Unix()
	if minute < 0 { // floor, so a minute's seconds never straddle two keys
		minute -= 59
	}
	minute /= 60
	if !m.set || minute != m.minute {
		out := t.UTC().AppendFormat(m.text[:0], receiptDateLayout)
		if len(out) != len(m.text) { // a year past 9999: no caching
			m.set = false
			return append(b, out...)
		}
		m.minute, m.set = minute, true
	}
	return append(b, m.text[:]...)
}

// DeliverSM returns the receipt as a deliver_sm: esm_class 0x04 (SMSC
// delivery receipt), source and destination swapped from the submit_sm, the
// receipt text as short_message and the TLVs receipted_message_id (the same
// id), message_state DELIVERED and, when Err is a number other than 000,
// network_error_code (type 3 GSM, two-octet code = Err).
func (r Receipt) DeliverSM(done time.Time) *pdu.DeliverSM {
	sm := new(pdu.DeliverSM)
	r.fillDeliverSM(sm, nil, done, nil)
	return sm
}

// fillDeliverSM writes the receipt into sm, building the text and the TLVs
// in buf (returned for reuse) and cutting both from one string: one
// allocation per receipt when the caller reuses sm and buf (and st, the
// dates' text; nil formats them). A batch of receipts can share one
// string: appendDeliverSM, then setDeliverSM.
func (r *Receipt) fillDeliverSM(sm *pdu.DeliverSM, buf []byte, done time.Time, st *dateStamps) []byte {
	b, textLen := r.appendDeliverSM(buf[:0], done, st)
	r.setDeliverSM(sm, string(b), textLen)
	return b
}

// appendDeliverSM appends the receipt's text, then its TLVs, to b and
// returns b and the length of the text.
func (r *Receipt) appendDeliverSM(b []byte, done time.Time, st *dateStamps) ([]byte, int) {
	start := len(b)
	b = r.appendText(b, done, st)
	textLen := len(b) - start
	b = pdu.AppendTLVCString(b, pdu.TagReceiptedMessageID, r.MessageID)
	b = pdu.AppendTLVUint8(b, pdu.TagMessageState, uint8(pdu.StateDelivered))
	if code, ok := networkErrorCode(r.Err); ok {
		tag := pdu.TagNetworkErrorCode
		b = append(b, byte(tag>>8), byte(tag), 0, 3, networkTypeGSM, byte(code>>8), byte(code))
	}
	return b, textLen
}

// setDeliverSM writes the receipt into sm with body, what appendDeliverSM
// appended, as its text (the first textLen octets) and TLVs. sm is zero
// or was written by setDeliverSM alone, so the fields it sets are all
// that differ: writing those, not the whole struct, spares a copy of a
// hundred and sixty octets per receipt.
func (r *Receipt) setDeliverSM(sm *pdu.DeliverSM, body string, textLen int) {
	sm.Source = r.Dest
	sm.Dest = r.Source
	sm.ESMClass = esmClassReceipt
	sm.ShortMessage = body[:textLen]
	sm.TLVs = pdu.TLVs(body[textLen:])
}

const (
	esmClassReceipt = 0x04 // esm_class: SMSC delivery receipt
	networkTypeGSM  = 3    // network_error_code network type: GSM
)

// networkErrorCode parses err ("003" → 3). It reports false for "000", an
// empty err and anything that is not a number in 0..65535, so no
// network_error_code is sent for them.
func networkErrorCode(err string) (uint16, bool) {
	n, perr := strconv.ParseUint(err, 10, 16)
	if perr != nil || n == 0 {
		return 0, false
	}
	return uint16(n), true
}
