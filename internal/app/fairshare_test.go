package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// floodAndGood starts a gateway with HLR_MAX_CONCURRENCY=workers and two
// accounts, "flood" and "good", and binds one session of each. Numbers
// 40700000200xx get slowAnswer; every other number is answered at once.
func floodAndGood(t *testing.T, workers string, slowAnswer fakeAnswer) (flood, good *esme.Client) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	yaml := "accounts:\n  - {system_id: flood, password: f}\n  - {system_id: good, password: g}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	slow := map[string]fakeAnswer{}
	for i := range 12 {
		slow[fmt.Sprintf("40700000200%02d", i)] = slowAnswer
	}
	gw := startGateway(t, newFakeTMT(t, slow), map[string]string{
		"SMPP_ACCOUNTS_FILE": file, "HLR_MAX_CONCURRENCY": workers, "HLR_TIMEOUT_SECONDS": "5",
	})
	dial := func(id, pw string) *esme.Client {
		c, err := esme.Dial(ctxT(t), esme.Config{Addr: gw.addr, SystemID: id, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	return dial("flood", "f"), dial("good", "g")
}

// TestOneAccountCannotFillTheWorkersQueue: two workers and a queue of
// eight are ten places, one of them kept for an account holding none. The
// flood's twelve slow submits get nine places and three ESME_RTHROTTLED,
// and another account's submit still finds a place and is decided by the
// HLR. With a plain queue the flood took all ten and the other account
// was throttled.
func TestOneAccountCannotFillTheWorkersQueue(t *testing.T) {
	hold := make(chan struct{}) // the flood's lookups wait until released
	release := sync.OnceFunc(func() { close(hold) })
	defer release()
	flood, good := floodAndGood(t, "2", fakeAnswer{hold: hold, present: "yes", typ: "mobile"})
	answers := make(chan pdu.Status, 12)
	for i := range 12 {
		flood.SendAsync(sm(fmt.Sprintf("40700000200%02d", i), 0), func(p pdu.PDU, _ error) { answers <- p.Status })
	}
	ctx := ctxT(t)
	for range 3 {
		select {
		case st := <-answers:
			if st != pdu.StatusThrottled {
				t.Fatalf("the flood got %s before the HLR answered, want ESME_RTHROTTLED beyond its share", st)
			}
		case <-ctx.Done():
			t.Fatal("the flood's submits beyond its share were not throttled: it took every place")
		}
	}
	// The flood holds both workers: the other account's submit must find
	// a place in the queue (not ESME_RTHROTTLED) and be decided once the
	// HLR answers.
	goodAnswer := make(chan pdu.Status, 1)
	good.SendAsync(sm("40722570240111", 0), func(p pdu.PDU, _ error) { goodAnswer <- p.Status })
	// The session answers in order what it cannot queue: once its
	// enquire_link is answered, a throttled submit would have been too.
	if err := good.EnquireLink(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-goodAnswer:
		t.Fatalf("the other account's submit was answered %s while the flood held the workers, want it queued", st)
	default:
	}
	release()
	if st := <-goodAnswer; st != pdu.StatusInvDstAdr {
		t.Fatalf("the other account's submit during the flood: %s, want ESME_RINVDSTADR (decided by the HLR)", st)
	}
	for range 9 {
		if st := <-answers; st != pdu.StatusInvDstAdr {
			t.Errorf("an admitted flood submit: %s, want ESME_RINVDSTADR", st)
		}
	}
}

// TestOneAccountCannotTakeEveryMultiPlace: with HLR_MAX_CONCURRENCY=8,
// eight submit_multi are decided at once, one place kept for an account
// holding none. The flood's nine hanging multis get seven places and two
// ESME_RTHROTTLED, and another account's submit_multi is decided while the
// flood's still wait.
func TestOneAccountCannotTakeEveryMultiPlace(t *testing.T) {
	hold := make(chan struct{}) // the flood's lookups hang until the test ends
	defer close(hold)
	flood, good := floodAndGood(t, "8", fakeAnswer{hold: hold, present: "yes", typ: "mobile"})
	multi := func(dests ...string) *pdu.SubmitMulti {
		m := &pdu.SubmitMulti{Source: pdu.Address{TON: 5, Addr: "SENDER"}, ShortMessage: "hi"}
		for _, d := range dests {
			m.Dests = append(m.Dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: d}})
		}
		return m
	}
	answers := make(chan pdu.Status, 9)
	for i := range 9 {
		flood.SendAsync(multi(fmt.Sprintf("40700000200%02d", i)), func(p pdu.PDU, _ error) { answers <- p.Status })
	}
	for range 2 {
		if st := <-answers; st != pdu.StatusThrottled {
			t.Fatalf("a flood multi got %s before the HLR answered, want ESME_RTHROTTLED beyond its share", st)
		}
	}
	resp, err := good.Send(ctxT(t), multi("40722570240222"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != pdu.StatusOK {
		t.Fatalf("the other account's submit_multi during the flood: %s, want ESME_ROK (decided)", resp.Status)
	}
	select {
	case st := <-answers:
		t.Fatalf("the flood's multi was answered (%s) before the other account's: it did not wait for the HLR", st)
	default:
	}
}
