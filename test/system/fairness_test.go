package system

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestOneAccountsFloodDoesNotStarveAnother: with eight provider slots and a
// 100 ms HLR, one account floods submit_multi to 1,600 uncached numbers.
// The flood slows only itself: another account's submits to uncached
// numbers are all decided by the HLR (ESME_RINVDSTADR for live numbers,
// never the timeout policy's ESME_RSYSERR), the flood's surplus is answered
// after the slot wait (hlr_slot_wait_timeouts_total), every multi is
// answered (ESME_RTHROTTLED beyond its share of the HLR_MAX_CONCURRENCY
// multis decided at once), the other account's submit_multi is decided
// while the flood's wait, and the circuit breaker stays closed.
func TestOneAccountsFloodDoesNotStarveAnother(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeFile(t, file, "accounts:\n  - {system_id: flood, password: f}\n  - {system_id: good, password: g}\n")
	g := startGW(t, "gw-fair", map[string]string{
		"SMPP_ACCOUNTS_FILE": file, "SIMULATOR_LATENCY_MS": "100", "HLR_MAX_CONCURRENCY": "8",
		"HLR_TIMEOUT_POLICY": "reject",
	})
	flood, err := bindAs(t, g.smppAddr, "flood", "f", pdu.CmdBindTransmitter)
	if err != nil {
		t.Fatal(err)
	}
	good, err := bindAs(t, g.smppAddr, "good", "g", pdu.CmdBindTransmitter)
	if err != nil {
		t.Fatal(err)
	}

	const multis, perMulti = 8, 200
	type answer struct {
		status pdu.Status
		err    error
	}
	var answered sync.WaitGroup
	floodAnswers := make(chan answer, multis) // buffered: a callback never blocks, nor logs after the test
	for m := range multis {
		dests := make([]pdu.DestAddress, perMulti)
		for i := range dests {
			dests[i] = pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: fmt.Sprintf("1999%02d%05d", m, i)}}
		}
		answered.Add(1)
		flood.SendAsync(&pdu.SubmitMulti{Source: pdu.Address{TON: 5, Addr: "FLOOD"}, Dests: dests, ShortMessage: "x"},
			func(p pdu.PDU, err error) {
				floodAnswers <- answer{p.Status, err}
				answered.Done()
			})
	}
	// The flood is queued once the slots are taken and lookups wait.
	if !waitFor(10*time.Second, func() bool { v, _ := g.metric("hlr_inflight_requests"); return v >= 8 }) {
		t.Fatal("the flood never took the eight provider slots")
	}

	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m := &pdu.SubmitSM{SM: pdu.SM{Source: pdu.Address{TON: 5, Addr: "GOOD"},
			Dest: pdu.Address{TON: 1, NPI: 1, Addr: fmt.Sprintf("19998%06d", i)}, ShortMessage: "hi"}}
		st, _, err := good.Submit(ctx, m)
		cancel()
		if err != nil {
			t.Fatalf("good submit %d: %v", i, err)
		}
		if st != pdu.StatusInvDstAdr {
			t.Fatalf("good submit %d to a live, uncached number during the flood: %s, want ESME_RINVDSTADR (decided by the HLR)", i, st)
		}
	}

	// The flood holds seven of the eight multi places, not all of them
	// (one is kept for an account holding none): the good account's
	// submit_multi is decided too, each destination by the HLR.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	goodMulti := &pdu.SubmitMulti{Source: pdu.Address{TON: 5, Addr: "GOOD"}, ShortMessage: "hi"}
	for i := range 3 {
		goodMulti.Dests = append(goodMulti.Dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: fmt.Sprintf("19997%06d", i)}})
	}
	resp, err := good.Send(ctx, goodMulti)
	cancel()
	if err != nil {
		t.Fatalf("good submit_multi: %v", err)
	}
	if resp.Status != pdu.StatusOK {
		t.Fatalf("good submit_multi during the flood: %s, want ESME_ROK (decided, not throttled)", resp.Status)
	}
	if body, ok := resp.Body.(*pdu.SubmitMultiResp); !ok || len(body.Unsuccess) != 3 {
		t.Errorf("good submit_multi to three live numbers: %+v, want all three in unsuccess_sme", resp.Body)
	} else {
		for _, u := range body.Unsuccess {
			if u.Status != pdu.StatusInvDstAdr {
				t.Errorf("good submit_multi's %s: %s, want ESME_RINVDSTADR (decided by the HLR)", u.Address.Addr, u.Status)
			}
		}
	}

	done := make(chan struct{})
	go func() { answered.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("not every flooding submit_multi was answered within 60 s")
	}
	close(floodAnswers)
	decided := 0
	for a := range floodAnswers {
		if a.err != nil {
			t.Errorf("submit_multi: %v", a.err)
			continue
		}
		switch st := a.status; st {
		case pdu.StatusOK: // each destination has its own status in unsuccess_sme
			decided++
		case pdu.StatusThrottled: // beyond the flood's share of HLR_MAX_CONCURRENCY multis
		default:
			t.Errorf("a flooding submit_multi was answered %s", st)
		}
	}
	if decided == 0 {
		t.Error("no flooding submit_multi was decided")
	}
	if v, _ := g.metric("hlr_slot_wait_timeouts_total"); v == 0 {
		t.Error("hlr_slot_wait_timeouts_total is 0: the flood never waited out a slot, so it proved nothing")
	}
	if v, ok := g.metric("hlr_breaker_state"); !ok || v != 0 {
		t.Errorf("hlr_breaker_state %v after the flood, want 0 (closed)", v)
	}
}
