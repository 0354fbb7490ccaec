package app_test

import (
	"encoding/binary"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestReverseFilter covers every row of the decision table (the README's)
// and every err row (the receipt err codes, docs/hlr.md) end to end: real
// server, fake TMT over HTTP, a real client.
func TestReverseFilter(t *testing.T) {
	answers := map[string]fakeAnswer{
		"13476841841":    {present: "yes", typ: "mobile"},
		"40722570240999": {body: `{"40722570240999":{"status":1,"status_message":"Invalid Number","error":0}}`},
		"40722570241":    {status: 0, err: 1, present: "no", typ: "mobile"},
		"40722570242":    {status: 0, err: 2, present: "no", typ: "mobile"},
		"40722570227":    {status: 0, err: 27, present: "no", typ: "mobile"},
		"2347010000044":  {status: 0, err: 191, present: "na", typ: "mobile"},
		"2347010000192":  {status: 0, err: 192, present: "na", typ: "mobile"},
		"33387840133":    {status: 0, err: 193, present: "na", typ: "fixed"},
		"49151000000500": {code: 500, body: "oops"},
		"49151000000002": {body: `{"49151000000002":{"status":2,"status_message":"Not authorised","error":0}}`},
		"49151000000003": {body: `{"49151000000003":{"status":3,"status_message":"Congestion","error":0}}`},
		"49151000000004": {body: `not json`},
		"49151000000005": {body: `{}`},
		"49151000000408": {delay: 5 * time.Second},
	}
	tests := []struct {
		name    string
		env     map[string]string
		dest    string
		want    pdu.Status
		wantErr string // receipt err; "" = no receipt
		lookup  bool   // whether the HLR is asked
	}{
		{"live number rejected", nil, "13476841841", pdu.StatusInvDstAdr, "", true},
		{"live number with + and spaces", nil, "+1 347-684-1841", pdu.StatusInvDstAdr, "", true},
		{"invalid number", nil, "40722570240999", pdu.StatusOK, "003", true},
		{"unknown subscriber", nil, "40722570241", pdu.StatusOK, "001", true},
		{"network unreachable", nil, "40722570242", pdu.StatusOK, "002", true},
		{"absent subscriber", nil, "40722570227", pdu.StatusOK, "001", true},
		{"network not supported 191", nil, "2347010000044", pdu.StatusOK, "000", true},
		{"network not supported 192", nil, "2347010000192", pdu.StatusOK, "000", true},
		{"landline 193", nil, "33387840133", pdu.StatusOK, "000", true},
		{"not a phone number", nil, "hello-world", pdu.StatusOK, "003", false},
		{"empty destination", nil, "", pdu.StatusInvDstAdr, "", false},
		{"timeout, policy reject (default)", nil, "49151000000408", pdu.StatusSysErr, "", true},
		{"timeout, policy accept", map[string]string{"HLR_TIMEOUT_POLICY": "accept"}, "49151000000408", pdu.StatusOK, "000", true},
		{"HTTP 500, policy accept (default)", nil, "49151000000500", pdu.StatusOK, "000", true},
		{"HTTP 500, policy reject", map[string]string{"HLR_ERROR_POLICY": "reject"}, "49151000000500", pdu.StatusSysErr, "", true},
		{"not authorised", nil, "49151000000002", pdu.StatusOK, "000", true},
		{"congestion, policy reject", map[string]string{"HLR_ERROR_POLICY": "reject"}, "49151000000003", pdu.StatusSysErr, "", true},
		{"body not JSON", nil, "49151000000004", pdu.StatusOK, "000", true},
		{"empty object", nil, "49151000000005", pdu.StatusOK, "000", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := startGateway(t, newFakeTMT(t, answers), tt.env)
			c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
			status, id := c.submit(t, sm(tt.dest, 1))
			if status != tt.want {
				t.Fatalf("submit_sm_resp %s, want %s", status, tt.want)
			}
			if asked := gw.tmt.requests.Load() > 0; asked != tt.lookup {
				t.Fatalf("HLR asked: %v, want %v", asked, tt.lookup)
			}
			if tt.wantErr == "" {
				if id != "" {
					t.Fatalf("rejected submit carries message_id %q", id)
				}
				return
			}
			checkReceipt(t, c.nextReceipt(t), id, tt.dest, tt.wantErr)
		})
	}
}

var receiptText = regexp.MustCompile(`^id:([0-9A-F]{16}) sub:001 dlvrd:000 submit date:\d{10} done date:\d{10} stat:DELIVRD err:(\d{3}) text:$`)

// checkReceipt checks a receipt byte for byte apart from its dates.
func checkReceipt(t *testing.T, d *pdu.DeliverSM, id, dest, wantErr string) {
	t.Helper()
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(id) {
		t.Fatalf("message_id %q is not 16 uppercase hex characters", id)
	}
	m := receiptText.FindStringSubmatch(d.ShortMessage)
	if m == nil || m[1] != id || m[2] != wantErr {
		t.Fatalf("receipt text %q, want id %s err %s", d.ShortMessage, id, wantErr)
	}
	if d.ESMClass != 0x04 {
		t.Fatalf("esm_class %#x, want 0x04", d.ESMClass)
	}
	if d.Source.Addr != dest || d.Dest.Addr != "SENDER" || d.Source.TON != 1 || d.Dest.TON != 5 {
		t.Fatalf("addresses not swapped: source %+v dest %+v", d.Source, d.Dest)
	}
	if got, _ := d.TLVs.CString(pdu.TagReceiptedMessageID); got != id {
		t.Fatalf("receipted_message_id %q, want %q", got, id)
	}
	if st, _ := d.TLVs.Get(pdu.TagMessageState); st != "\x02" {
		t.Fatalf("message_state %q, want DELIVERED (2)", st)
	}
	nec, ok := d.TLVs.Get(pdu.TagNetworkErrorCode)
	if wantErr == "000" {
		if ok {
			t.Fatalf("network_error_code %x present for err 000", nec)
		}
		return
	}
	if !ok || len(nec) != 3 || nec[0] != 3 || strings.TrimLeft(itoa3(binary.BigEndian.Uint16([]byte(nec[1:]))), "") != wantErr {
		t.Fatalf("network_error_code %x, want GSM (3) + %s", nec, wantErr)
	}
}

func itoa3(n uint16) string {
	return string([]byte{byte('0' + n/100%10), byte('0' + n/10%10), byte('0' + n%10)})
}
