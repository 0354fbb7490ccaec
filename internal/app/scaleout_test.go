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
