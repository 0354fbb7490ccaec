package system

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func uniquePrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "systest:" + hex.EncodeToString(b[:]) + ":"
}

// TestTwoInstancesOneRedis: a transmitter on A submits 1,000 invalid
// numbers, a receiver on B gets every receipt exactly once, and B then asks
// its HLR nothing for the same numbers (A's answers are in the shared
// cache).
func TestTwoInstancesOneRedis(t *testing.T) {
	const n = 1000
	rs := startRedis(t)
	tmtA, tmtB := newCountingTMT(t), newCountingTMT(t)
	common := map[string]string{
		"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"HLR_PROVIDER": "tmt", "HLR_API_KEY": "k", "HLR_API_SECRET": "s",
		"DLR_DELAY_SECONDS": "0.2",
	}
	envA, envB := map[string]string{"HLR_BASE_URL": tmtA.srv.URL}, map[string]string{"HLR_BASE_URL": tmtB.srv.URL}
	for k, v := range common {
		envA[k], envB[k] = v, v
	}
	a := startGW(t, "gw-a", envA)
	b := startGW(t, "gw-b", envB)

	rc := newReceipts()
	dial(t, b.smppAddr, pdu.CmdBindReceiver, rc)
	tx := dial(t, a.smppAddr, pdu.CmdBindTransmitter, nil)

	dests := invalidNumbers(0, n)
	start := time.Now()
	res := submitAll(t, tx, dests, 200, 0, 60*time.Second)
	submitted := time.Since(start)
	ids := acceptedIDs(t, res)
	if len(ids) != n {
		t.Fatalf("A accepted %d of %d invalid numbers (%s)", len(ids), n, fmtTally(tally(res)))
	}
	if missing := rc.waitAll(ids, 30*time.Second); missing > 0 {
		t.Fatalf("the receiver on B is missing %d of %d receipts", missing, n)
	}
	drained := time.Since(start)
	// No duplicates: once the shared queue is empty, every deliver_sm either
	// instance sent is one the receiver counted.
	if !waitFor(10*time.Second, func() bool {
		p, ok := b.metric("dlr_pending")
		return ok && p == 0
	}) {
		t.Fatal("dlr_pending on B did not reach 0")
	}
	sentA, _ := a.metric("dlr_sent_total")
	sentB, _ := b.metric("dlr_sent_total")
	distinct, total, dups := rc.counts()
	t.Logf("two instances: submitted %d on A in %v, %d receipts (%d distinct, %d duplicates) on B, all in %v after the first submit; deliver_sm sent by A=%v B=%v; TMT requests A=%d",
		n, submitted.Round(time.Millisecond), total, distinct, dups, drained.Round(time.Millisecond), sentA, sentB, tmtA.requests.Load())
	if u := rc.unexpected(ids); len(u) > 0 {
		t.Fatalf("receipts for ids that were never given: %v", u)
	}
	if dups != 0 || total != n {
		t.Fatalf("receiver got %d receipts for %d messages (%d duplicates), want each once", total, n, dups)
	}
	if sentA+sentB != n {
		t.Fatalf("A and B sent %v deliver_sm for %d receipts", sentA+sentB, n)
	}
	if got := tmtA.requests.Load(); got != n {
		t.Errorf("A made %d HLR requests for %d distinct numbers, want %d", got, n, n)
	}

	// B submits the same numbers: every answer comes from the shared cache.
	txB := dial(t, b.smppAddr, pdu.CmdBindTransmitter, nil)
	resB := submitAll(t, txB, dests, 200, 0, 60*time.Second)
	idsB := acceptedIDs(t, resB)
	if len(idsB) != n {
		t.Fatalf("B accepted %d of %d (%s)", len(idsB), n, fmtTally(tally(resB)))
	}
	for id := range idsB {
		if ids[id] {
			t.Fatalf("message id %s given by both A and B", id)
		}
	}
	hits, _ := b.metric("hlr_cache_hits_total")
	t.Logf("two instances: B resubmitted %d numbers: TMT requests B=%d, B cache hits=%v", n, tmtB.requests.Load(), hits)
	if got := tmtB.requests.Load(); got != 0 {
		t.Fatalf("B made %d HLR requests for numbers A had looked up, want 0", got)
	}
	// B's own receipts reach the receiver too.
	if missing := rc.waitAll(idsB, 30*time.Second); missing > 0 {
		t.Fatalf("%d of B's %d receipts missing", missing, n)
	}
}
