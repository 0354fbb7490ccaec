package app_test

import (
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestTwoInstancesShareCacheAndReceipts runs two gateways on one Redis: a
// transmitter bound to A submits, a receiver bound to B gets the receipts,
// and B asks the HLR nothing A already asked.
func TestTwoInstancesShareCacheAndReceipts(t *testing.T) {
	url, prefix := redistest.URL(t)
	env := map[string]string{"REDIS_URL": url, "REDIS_KEY_PREFIX": prefix}
	tmtA, tmtB := newFakeTMT(t, invalidNumbers), newFakeTMT(t, invalidNumbers)
	a := startGateway(t, tmtA, env)
	b := startGateway(t, tmtB, env)

	tx := bind(t, a.addr, pdu.CmdBindTransmitter, nil)
	rx := bind(t, b.addr, pdu.CmdBindReceiver, nil)
	ids := map[string]bool{}
	for _, dest := range []string{"40722570240999", "40722570240998", "13476841841"} {
		status, id := tx.submit(t, sm(dest, 1))
		if status == pdu.StatusOK {
			ids[id] = true
		}
	}
	if len(ids) != 2 {
		t.Fatalf("%d accepted, want 2", len(ids))
	}
	for range ids {
		d := rx.nextReceipt(t)
		id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
		if !ids[id] {
			t.Fatalf("unexpected or repeated receipt %q", id)
		}
		delete(ids, id)
	}

	txB := bind(t, b.addr, pdu.CmdBindTransmitter, nil)
	before := tmtB.requests.Load()
	for _, dest := range []string{"40722570240999", "13476841841"} {
		txB.submit(t, sm(dest, 1))
	}
	if n := tmtB.requests.Load() - before; n != 0 {
		t.Fatalf("instance B made %d HLR requests for numbers A looked up, want 0", n)
	}
}

// TestQueryRightAfterAcceptWithoutReceipt: with DLR_MODE=requested and
// Redis, a message that asked for no receipt is answered once its outcome
// is recorded, so a query_sm sent as soon as the answer arrives, on this
// instance or another, finds it DELIVERED. (The answer used to go out
// before the record's commit: 23 to 41 of 300 such queries got
// ESME_RQUERYFAIL.)
func TestQueryRightAfterAcceptWithoutReceipt(t *testing.T) {
	url, prefix := redistest.URL(t)
	env := map[string]string{"REDIS_URL": url, "REDIS_KEY_PREFIX": prefix, "DLR_MODE": "requested"}
	a := startGateway(t, newFakeTMT(t, invalidNumbers), env)
	b := startGateway(t, newFakeTMT(t, invalidNumbers), env)
	ta := bind(t, a.addr, pdu.CmdBindTransceiver, nil)
	tb := bind(t, b.addr, pdu.CmdBindTransceiver, nil)
	for i := range 100 {
		status, id := ta.submit(t, sm("40722570240999", 0)) // cached after the first: answered on the reader
		if status != pdu.StatusOK {
			t.Fatalf("submit %d: %s", i, status)
		}
		for _, c := range []*client{ta, tb} {
			resp, err := c.Send(ctxT(t), &pdu.QuerySM{MessageID: id})
			if err != nil {
				t.Fatal(err)
			}
			if q, _ := resp.Body.(*pdu.QuerySMResp); resp.Status != pdu.StatusOK || q.MessageState != pdu.StateDelivered {
				t.Fatalf("query_sm %d right after its submit_sm_resp: %s %+v, want DELIVERED", i, resp.Status, resp.Body)
			}
		}
	}
}
