package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

var invalidNumbers = map[string]fakeAnswer{
	"40722570240999": {body: `{"40722570240999":{"status":1,"status_message":"Invalid Number","error":0}}`},
	"40722570240998": {body: `{"40722570240998":{"status":1,"status_message":"Invalid Number","error":0}}`},
}

func TestReceiptsWaitForAReceiverBind(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	tx := bind(t, gw.addr, pdu.CmdBindTransmitter, nil)
	var ids []string
	for _, dest := range []string{"40722570240999", "40722570240998"} {
		status, id := tx.submit(t, sm(dest, 1))
		if status != pdu.StatusOK {
			t.Fatalf("submit %s: %s", dest, status)
		}
		ids = append(ids, id)
	}
	// Nobody can receive yet; the receipts stay queued until a receiver
	// of the same account binds.
	rx := bind(t, gw.addr, pdu.CmdBindReceiver, nil)
	got := map[string]bool{}
	for range ids {
		d := rx.nextReceipt(t)
		id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
		got[id] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Fatalf("receipt for %s missing; got %v", id, got)
		}
	}
}

func TestTemporaryReceiptFailureIsRetried(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	var attempts atomic.Int32
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, func(*pdu.DeliverSM) pdu.Status {
		if attempts.Add(1) == 1 {
			return pdu.StatusXTAppn
		}
		return pdu.StatusOK
	})
	_, id := c.submit(t, sm("40722570240999", 1))
	first, second := c.nextReceipt(t), c.nextReceipt(t)
	for _, d := range []*pdu.DeliverSM{first, second} {
		if got, _ := d.TLVs.CString(pdu.TagReceiptedMessageID); got != id {
			t.Fatalf("receipt for %q, want %q", got, id)
		}
	}
	if n := attempts.Load(); n != 2 {
		t.Fatalf("%d deliveries, want 2 (one refused with ESME_RX_T_APPN, one retry)", n)
	}
}

func TestPermanentReceiptFailureIsDropped(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	var attempts atomic.Int32
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, func(d *pdu.DeliverSM) pdu.Status {
		attempts.Add(1)
		if strings.Contains(d.Source.Addr, "40722570240999") {
			return pdu.StatusXPAppn
		}
		return pdu.StatusOK
	})
	c.submit(t, sm("40722570240999", 1))
	c.nextReceipt(t)
	// A later receipt arriving proves the dropped one was not retried in
	// between (retries come after RetryMin, the next receipt sooner).
	_, id2 := c.submit(t, sm("40722570240998", 1))
	d := c.nextReceipt(t)
	if got, _ := d.TLVs.CString(pdu.TagReceiptedMessageID); got != id2 {
		t.Fatalf("next receipt is %q, want %q: the refused one came again", got, id2)
	}
}

func TestDLRModeRequested(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{"DLR_MODE": "requested"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	status, unrequested := c.submit(t, sm("40722570240999", 0))
	if status != pdu.StatusOK || unrequested == "" {
		t.Fatalf("submit without receipt request: %s %q", status, unrequested)
	}
	_, requested := c.submit(t, sm("40722570240998", 1))
	d := c.nextReceipt(t)
	if got, _ := d.TLVs.CString(pdu.TagReceiptedMessageID); got != requested {
		t.Fatalf("got a receipt for %q, want only the requested %q", got, requested)
	}
	// The message that asked for no receipt still has a state to query.
	resp, err := c.Send(ctxT(t), &pdu.QuerySM{MessageID: unrequested})
	if err != nil {
		t.Fatal(err)
	}
	if q, _ := resp.Body.(*pdu.QuerySMResp); resp.Status != pdu.StatusOK || q == nil || q.MessageState != pdu.StateDelivered {
		t.Fatalf("query_sm of an accepted message without a receipt: %s %+v, want DELIVERED", resp.Status, resp.Body)
	}
}

func TestPendingCapAnswersMsgQFul(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	yaml := "accounts:\n  - system_id: testuser\n    password: testpass\n    max_pending_receipts: 2\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tmt := newFakeTMT(t, invalidNumbers)
	gw := startGateway(t, tmt, map[string]string{"SMPP_ACCOUNTS_FILE": file})
	tx := bind(t, gw.addr, pdu.CmdBindTransmitter, nil) // never receives: receipts pile up
	for i := range 2 {
		if status, _ := tx.submit(t, sm("40722570240999", 1)); status != pdu.StatusOK {
			t.Fatalf("submit %d under the cap: %s", i, status)
		}
	}
	lookups := tmt.requests.Load()
	if status, _ := tx.submit(t, sm("40722570240998", 1)); status != pdu.StatusMsgQFul {
		t.Fatalf("submit over the cap: %s, want ESME_RMSGQFUL", status)
	}
	if n := tmt.requests.Load(); n != lookups {
		t.Fatalf("the refused submit cost %d HLR lookups", n-lookups)
	}
	// A reload raises the cap: the bound session may submit one more.
	if err := os.WriteFile(file, []byte(strings.Replace(yaml, "receipts: 2", "receipts: 3", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := gw.app.Reload(ctxT(t)); err != nil || strings.Join(res.Changed, ",") != "testuser" {
		t.Fatalf("reload: %+v %v", res, err)
	}
	if status, _ := tx.submit(t, sm("40722570240999", 1)); status != pdu.StatusOK {
		t.Fatalf("submit under the reloaded cap: %s", status)
	}
	if status, _ := tx.submit(t, sm("40722570240998", 1)); status != pdu.StatusMsgQFul {
		t.Fatalf("submit over the reloaded cap: %s, want ESME_RMSGQFUL", status)
	}
	// A receiver takes the receipts: the account is under its cap again.
	rx := bind(t, gw.addr, pdu.CmdBindReceiver, nil)
	for range 3 {
		rx.nextReceipt(t)
	}
}

func TestQueryCancelReplace(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{"DLR_DELAY_SECONDS": "30"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	_, id := c.submit(t, sm("40722570240999", 1))

	resp, err := c.Send(ctxT(t), &pdu.QuerySM{MessageID: id, Source: pdu.Address{TON: 5, Addr: "SENDER"}})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := resp.Body.(*pdu.QuerySMResp)
	if resp.Status != pdu.StatusOK || q == nil || q.MessageID != id || q.MessageState != pdu.StateEnroute {
		t.Fatalf("query_sm of a pending message: %s %+v", resp.Status, resp.Body)
	}
	if resp, _ = c.Send(ctxT(t), &pdu.QuerySM{MessageID: "FFFFFFFFFFFFFFFF"}); resp.Status != pdu.StatusQueryFail {
		t.Fatalf("query_sm of an unknown id: %s, want ESME_RQUERYFAIL", resp.Status)
	}
	if resp, _ = c.Send(ctxT(t), &pdu.ReplaceSM{MessageID: id, ShortMessage: "x"}); resp.Status != pdu.StatusReplaceFail {
		t.Fatalf("replace_sm: %s, want ESME_RREPLACEFAIL", resp.Status)
	}
	if resp, _ = c.Send(ctxT(t), &pdu.CancelSM{MessageID: id}); resp.Status != pdu.StatusOK {
		t.Fatalf("cancel_sm of a pending receipt: %s", resp.Status)
	}
	if resp, _ = c.Send(ctxT(t), &pdu.CancelSM{MessageID: id}); resp.Status != pdu.StatusCancelFail {
		t.Fatalf("second cancel_sm: %s, want ESME_RCANCELFAIL", resp.Status)
	}
}

func TestQueryAfterDelivery(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	_, id := c.submit(t, sm("40722570240999", 1))
	c.nextReceipt(t)
	// The receipt was answered; its state turns DELIVERED once the
	// dispatcher has processed the answer.
	for {
		resp, err := c.Send(ctxT(t), &pdu.QuerySM{MessageID: id})
		if err != nil {
			t.Fatal(err)
		}
		if q, _ := resp.Body.(*pdu.QuerySMResp); resp.Status == pdu.StatusOK && q.MessageState == pdu.StateDelivered {
			if q.FinalDate == "" {
				t.Fatal("DELIVERED without a final_date")
			}
			return
		}
		if ctxT(t).Err() != nil {
			t.Fatal("never DELIVERED")
		}
	}
}

func TestSubmitMultiAndDataSM(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	resp, err := c.Send(ctxT(t), &pdu.SubmitMulti{
		Source: pdu.Address{TON: 5, Addr: "SENDER"},
		Dests: []pdu.DestAddress{
			{Address: pdu.Address{TON: 1, NPI: 1, Addr: "13476841841"}},
			{Address: pdu.Address{TON: 1, NPI: 1, Addr: "40722570240999"}},
		},
		RegisteredDelivery: 1, ShortMessage: "hi",
	})
	if err != nil {
		t.Fatal(err)
	}
	mr, _ := resp.Body.(*pdu.SubmitMultiResp)
	if resp.Status != pdu.StatusOK || mr == nil || mr.MessageID == "" || len(mr.Unsuccess) != 1 ||
		mr.Unsuccess[0].Address.Addr != "13476841841" || mr.Unsuccess[0].Status != pdu.StatusInvDstAdr {
		t.Fatalf("submit_multi_resp %s %+v", resp.Status, resp.Body)
	}
	checkReceipt(t, c.nextReceipt(t), mr.MessageID, "40722570240999", "003")

	resp, err = c.Send(ctxT(t), &pdu.DataSM{Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "13476841841"}})
	if err != nil || resp.Status != pdu.StatusInvDstAdr {
		t.Fatalf("data_sm to a live number: %s %v", resp.Status, err)
	}
	resp, err = c.Send(ctxT(t), &pdu.DataSM{Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "40722570240998"}, RegisteredDelivery: 1})
	if err != nil || resp.Status != pdu.StatusOK {
		t.Fatalf("data_sm to an invalid number: %s %v", resp.Status, err)
	}
	dr, _ := resp.Body.(*pdu.DataSMResp)
	checkReceipt(t, c.nextReceipt(t), dr.MessageID, "40722570240998", "003")

	// data_sm takes addresses of 64 octets; its receipt, a deliver_sm,
	// holds 20: such a data_sm is refused, not given a receipt no client
	// could decode.
	long := strings.Repeat("4", 21)
	for _, tt := range []struct {
		src, dst string
		want     pdu.Status
	}{
		{"SENDER", long, pdu.StatusInvDstAdr},
		{long, "40722570240998", pdu.StatusInvSrcAdr},
		{long, long, pdu.StatusInvDstAdr},
		{"SENDER", long[:20], pdu.StatusOK}, // not a phone number: accepted without a lookup
	} {
		resp, err = c.Send(ctxT(t), &pdu.DataSM{Source: pdu.Address{TON: 5, Addr: tt.src}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: tt.dst}})
		if err != nil || resp.Status != tt.want {
			t.Fatalf("data_sm from %d to %d octets: %s %v, want %s", len(tt.src), len(tt.dst), resp.Status, err, tt.want)
		}
	}
	dr, _ = resp.Body.(*pdu.DataSMResp)
	checkReceipt(t, c.nextReceipt(t), dr.MessageID, long[:20], "003")
}

func TestSecretsNeverLogged(t *testing.T) {
	answers := map[string]fakeAnswer{
		"49151000000500": {code: 500, body: "oops"},
		"49151000000004": {body: "not json"},
		"49151000000408": {delay: 5e9},
	}
	gw := startGateway(t, newFakeTMT(t, answers), nil)
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	for _, dest := range []string{"49151000000500", "49151000000004", "49151000000408", "13476841841"} {
		c.submit(t, sm(dest, 1))
	}
	if _, err := dialRaw(gw.addr, "testuser", "wrongpw1"); err == nil {
		t.Fatal("bind with a wrong password succeeded")
	}
	gw.logs.waitFor(t, "submit.rejected")
	gw.logs.waitFor(t, "smpp.bind.failed")
	logs := gw.logs.String()
	for _, secret := range []string{"key-k3y", "s3cr3t-secret", "testpass", "wrongpw1"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log output contains %q", secret)
		}
	}
	if !strings.Contains(logs, "submit.rejected") || !strings.Contains(logs, "smpp.bind.failed") {
		t.Fatalf("expected submit and bind events in the logs:\n%s", logs)
	}
}

// TestConcatenatedSegmentsShareOneLookup sends the three segments of a
// concatenated message at once: each gets its own message id and
// receipt, and the HLR is asked once.
func TestConcatenatedSegmentsShareOneLookup(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	type answer struct {
		p   pdu.PDU
		err error
	}
	answers := make(chan answer, 3)
	for seg := 1; seg <= 3; seg++ {
		m := sm("40722570240999", 1)
		m.TLVs = pdu.TLVs("").WithUint16(pdu.TagSARMsgRefNum, 42).
			WithUint8(pdu.TagSARTotalSegments, 3).WithUint8(pdu.TagSARSegmentSeqnum, uint8(seg))
		c.SendAsync(m, func(p pdu.PDU, err error) { answers <- answer{p, err} })
	}
	ids := map[string]bool{}
	for range 3 {
		a := <-answers
		r, _ := a.p.Body.(*pdu.SubmitSMResp)
		if a.err != nil || a.p.Status != pdu.StatusOK || r == nil {
			t.Fatalf("segment answered %s %v", a.p.Status, a.err)
		}
		ids[r.MessageID] = true
	}
	if len(ids) != 3 {
		t.Fatalf("%d distinct message ids for 3 segments", len(ids))
	}
	for range 3 {
		d := c.nextReceipt(t)
		id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
		if !ids[id] {
			t.Fatalf("receipt for unknown or repeated id %q", id)
		}
		delete(ids, id)
	}
	if n := gw.tmt.requests.Load(); n != 1 {
		t.Fatalf("%d HLR requests for one number in three segments, want 1", n)
	}
}

// TestShutdownSendsReceiptsOfSubmitsInFlight: a submit still waiting for
// its lookup when shutdown starts is answered, and its receipt (due within
// the shutdown window) is sent before the sessions are unbound.
func TestShutdownSendsReceiptsOfSubmitsInFlight(t *testing.T) {
	tmt := newFakeTMT(t, map[string]fakeAnswer{
		"40700000001": {body: `{"40700000001":{"status":1,"status_message":"Invalid Number","error":0}}`, delay: 300 * time.Millisecond},
	})
	gw := startGateway(t, tmt, map[string]string{"HLR_TIMEOUT_SECONDS": "2"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	answered := make(chan pdu.PDU, 1)
	c.SendAsync(sm("40700000001", 1), func(p pdu.PDU, _ error) { answered <- p })
	<-tmt.arrived // the submit is in its lookup
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	pending := gw.app.Shutdown(ctx)
	p := <-answered
	if p.Status != pdu.StatusOK {
		t.Fatalf("in-flight submit answered %s", p.Status)
	}
	select {
	case d := <-c.receipts:
		id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
		if r, _ := p.Body.(*pdu.SubmitSMResp); r == nil || r.MessageID != id {
			t.Fatalf("receipt for %q, want the in-flight message's", id)
		}
	default:
		t.Fatalf("the receipt of a submit answered during shutdown was not sent (pending %d)", pending)
	}
}

// TestBusyWorkersThrottleInsteadOfStallingTheReader: with every HLR worker
// busy and the queue full, further submits are answered ESME_RTHROTTLED at
// once and the session keeps answering enquire_link.
func TestBusyWorkersThrottleInsteadOfStallingTheReader(t *testing.T) {
	slow := map[string]fakeAnswer{}
	for i := range 10 {
		slow[fmt.Sprintf("4070000010%d", i)] = fakeAnswer{delay: 400 * time.Millisecond}
	}
	gw := startGateway(t, newFakeTMT(t, slow), map[string]string{"HLR_MAX_CONCURRENCY": "1", "HLR_TIMEOUT_SECONDS": "2"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	answers := make(chan pdu.Status, 10)
	for i := range 10 {
		c.SendAsync(sm(fmt.Sprintf("4070000010%d", i), 1), func(p pdu.PDU, _ error) { answers <- p.Status })
	}
	// One submit in the worker and four queued (a pool this small keeps
	// no place for other accounts): the other five are throttled at once,
	// while the first five still wait for the HLR.
	for range 5 {
		if st := <-answers; st != pdu.StatusThrottled {
			t.Fatalf("got %s before the HLR answered, want ESME_RTHROTTLED", st)
		}
	}
	if err := c.EnquireLink(ctxT(t)); err != nil {
		t.Fatalf("the reader stalled: %v", err)
	}
}

// TestAnotherAccountCannotQueryOrCancel: message ids are predictable, so
// query_sm and cancel_sm answer only the account that submitted.
func TestAnotherAccountCannotQueryOrCancel(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	yaml := "accounts:\n  - system_id: testuser\n    password: testpass\n  - system_id: mallory\n    password: pw\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{"SMPP_ACCOUNTS_FILE": file, "DLR_DELAY_SECONDS": "30"})
	owner := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	_, id := owner.submit(t, sm("40722570240999", 1))
	other, err := esme.Dial(ctxT(t), esme.Config{Addr: gw.addr, SystemID: "mallory", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if resp, _ := other.Send(ctxT(t), &pdu.QuerySM{MessageID: id}); resp.Status != pdu.StatusQueryFail {
		t.Fatalf("another account's query_sm: %s, want ESME_RQUERYFAIL", resp.Status)
	}
	if resp, _ := other.Send(ctxT(t), &pdu.CancelSM{MessageID: id}); resp.Status != pdu.StatusCancelFail {
		t.Fatalf("another account's cancel_sm: %s, want ESME_RCANCELFAIL", resp.Status)
	}
	if resp, _ := owner.Send(ctxT(t), &pdu.QuerySM{MessageID: id}); resp.Status != pdu.StatusOK {
		t.Fatalf("the owner's query_sm: %s", resp.Status)
	}
	if resp, _ := owner.Send(ctxT(t), &pdu.CancelSM{MessageID: id}); resp.Status != pdu.StatusOK {
		t.Fatalf("the owner's cancel_sm: %s", resp.Status)
	}
}

// TestQueryCancelCheckTheAddresses: a source_addr (query_sm, cancel_sm)
// or destination_addr (cancel_sm) other than the message's fails
// (SMPP v3.4 4.8.1, 4.9.1); NULL or the message's own passes.
func TestQueryCancelCheckTheAddresses(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{"DLR_DELAY_SECONDS": "30"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	_, id := c.submit(t, sm("40722570240999", 1)) // from SENDER
	steps := []struct {
		name string
		req  pdu.Body
		want pdu.Status
	}{
		{"query_sm from another source", &pdu.QuerySM{MessageID: id, Source: pdu.Address{TON: 5, Addr: "OTHER"}}, pdu.StatusQueryFail},
		{"query_sm from its source", &pdu.QuerySM{MessageID: id, Source: pdu.Address{TON: 5, Addr: "SENDER"}}, pdu.StatusOK},
		{"cancel_sm from another source", &pdu.CancelSM{MessageID: id, Source: pdu.Address{TON: 5, Addr: "OTHER"}}, pdu.StatusCancelFail},
		{"cancel_sm to another destination", &pdu.CancelSM{MessageID: id, Dest: pdu.Address{TON: 1, NPI: 1, Addr: "99999"}}, pdu.StatusCancelFail},
		{"query_sm after the refused cancels", &pdu.QuerySM{MessageID: id}, pdu.StatusOK},
		{"cancel_sm naming both its addresses", &pdu.CancelSM{MessageID: id, Source: pdu.Address{TON: 5, Addr: "SENDER"},
			Dest: pdu.Address{TON: 1, NPI: 1, Addr: "40722570240999"}}, pdu.StatusOK},
	}
	for _, st := range steps {
		resp, err := c.Send(ctxT(t), st.req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != st.want {
			t.Fatalf("%s: %s, want %s", st.name, resp.Status, st.want)
		}
		if q, ok := resp.Body.(*pdu.QuerySMResp); ok && resp.Status == pdu.StatusOK && q.MessageState != pdu.StateEnroute {
			t.Fatalf("%s: state %v, want ENROUTE (nothing cancelled it)", st.name, q.MessageState)
		}
	}
}

// TestCancelRefusedWhileTheReceiptIsBeingSent: once a receipt's
// deliver_sm is out and unanswered, cancel_sm can no longer recall it:
// ESME_RCANCELFAIL, and the message ends DELIVERED when the answer comes
// (before, the cancel answered ESME_ROK, query_sm said DELETED and then
// DELIVERED).
func TestCancelRefusedWhileTheReceiptIsBeingSent(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	got, release := make(chan struct{}, 1), make(chan struct{})
	bind(t, gw.addr, pdu.CmdBindReceiver, func(*pdu.DeliverSM) pdu.Status {
		got <- struct{}{}
		<-release // answers only when the test says
		return pdu.StatusOK
	})
	tx := bind(t, gw.addr, pdu.CmdBindTransmitter, nil)
	_, id := tx.submit(t, sm("40722570240999", 1))
	<-got
	resp, err := tx.Send(ctxT(t), &pdu.CancelSM{MessageID: id})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != pdu.StatusCancelFail {
		t.Fatalf("cancel_sm while its receipt is being sent: %s, want ESME_RCANCELFAIL", resp.Status)
	}
	close(release)
	for {
		resp, err := tx.Send(ctxT(t), &pdu.QuerySM{MessageID: id})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := resp.Body.(*pdu.QuerySMResp)
		if resp.Status == pdu.StatusOK && q.MessageState == pdu.StateDelivered {
			return
		}
		if resp.Status != pdu.StatusOK || q.MessageState != pdu.StateEnroute {
			t.Fatalf("query_sm after the refused cancel: %s %+v, want ENROUTE then DELIVERED", resp.Status, resp.Body)
		}
		if ctxT(t).Err() != nil {
			t.Fatal("never DELIVERED")
		}
	}
}
