package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSubmitMultiSlowHLRDecidesEveryDestination: 30 uncached destinations
// at 300 ms HLR latency under a 2 s HLR timeout are all decided (live ones
// rejected, invalid ones accepted): the lookups run concurrently, each
// under its own deadline, where one after another they ran out of time.
func TestSubmitMultiSlowHLRDecidesEveryDestination(t *testing.T) {
	answers := map[string]fakeAnswer{}
	var dests []pdu.DestAddress
	live := map[string]bool{}
	for i := range 30 {
		n := fmt.Sprintf("4915100000%04d", i)
		a := fakeAnswer{delay: 300 * time.Millisecond, present: "yes", typ: "mobile"}
		if i%2 == 1 {
			a = fakeAnswer{delay: 300 * time.Millisecond, body: fmt.Sprintf(`{"%s":{"status":1,"status_message":"Invalid Number","error":0}}`, n)}
		} else {
			live[n] = true
		}
		answers[n] = a
		dests = append(dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: n}})
	}
	gw := startGateway(t, newFakeTMT(t, answers), map[string]string{"HLR_TIMEOUT_SECONDS": "2"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	resp, err := c.Send(ctxT(t), &pdu.SubmitMulti{
		Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dests: dests, ShortMessage: "hi",
	})
	if err != nil {
		t.Fatal(err)
	}
	mr, _ := resp.Body.(*pdu.SubmitMultiResp)
	if resp.Status != pdu.StatusOK || mr == nil || mr.MessageID == "" {
		t.Fatalf("submit_multi_resp %s %+v", resp.Status, resp.Body)
	}
	if len(mr.Unsuccess) != len(live) {
		t.Fatalf("%d unsuccessful destinations, want the %d live ones: %+v", len(mr.Unsuccess), len(live), mr.Unsuccess)
	}
	for _, u := range mr.Unsuccess {
		if !live[u.Address.Addr] || u.Status != pdu.StatusInvDstAdr {
			t.Errorf("destination %s answered %s; only live numbers are unsuccessful, with ESME_RINVDSTADR", u.Address.Addr, u.Status)
		}
	}
}

// TestLongTextIsAccepted: a short_message of 300 characters (what
// `send --text` builds) travels as message_payload and is accepted; it
// used to go out with a wrapped sm_length and be answered
// ESME_RINVOPTPARSTREAM.
func TestLongTextIsAccepted(t *testing.T) {
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), nil)
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	m := sm("40722570240999", 1)
	m.ShortMessage = strings.Repeat("0123456789", 30)
	if st, id := c.submit(t, m); st != pdu.StatusOK || id == "" {
		t.Fatalf("a 300-character text was answered %s %q", st, id)
	}
	gw.logs.waitFor(t, `"message_length":300`)
}

// TestSubmitMultiDoesNotHoldTheWorkers: with one HLR worker, a
// submit_multi whose lookup hangs at the HLR (the one provider slot) does
// not stall another session's data_sm to a cached number: it is answered
// while the multi still waits. A multi used to hold a worker until every
// destination was decided, so a client sending multis stalled everyone's
// submits; decided on the one worker, it would hold it here and the
// data_sm would wait behind it.
func TestSubmitMultiDoesNotHoldTheWorkers(t *testing.T) {
	const cached = "491510000999"
	answers := map[string]fakeAnswer{cached: {present: "yes", typ: "mobile"}}
	hold := make(chan struct{}) // the multi's lookup hangs until the test ends
	defer close(hold)
	multi := func(i int) *pdu.SubmitMulti {
		m := &pdu.SubmitMulti{Source: pdu.Address{TON: 5, Addr: "SENDER"}, ShortMessage: "hi"}
		for j := range 1 {
			n := fmt.Sprintf("4915200000%02d%d", i, j)
			answers[n] = fakeAnswer{hold: hold, present: "yes", typ: "mobile"}
			m.Dests = append(m.Dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: n}})
		}
		return m
	}
	multis := []*pdu.SubmitMulti{multi(0)}
	tmt := newFakeTMT(t, answers)
	gw := startGateway(t, tmt, map[string]string{"HLR_MAX_CONCURRENCY": "1", "HLR_TIMEOUT_SECONDS": "5"})
	c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
	if st, _, err := c.Submit(ctxT(t), sm(cached, 1)); err != nil || st != pdu.StatusInvDstAdr {
		t.Fatalf("warming the cache: %v %v", st, err)
	}
	<-tmt.arrived
	answered := make(chan pdu.Status, len(multis))
	for _, m := range multis {
		c.SendAsync(m, func(p pdu.PDU, _ error) { answered <- p.Status })
	}
	<-tmt.arrived // the provider slot is taken by the multi's lookup
	other := bind(t, gw.addr, pdu.CmdBindTransmitter, nil)
	resp, err := other.Send(ctxT(t), &pdu.DataSM{Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: cached}})
	if err != nil || resp.Status != pdu.StatusInvDstAdr {
		t.Fatalf("data_sm to a cached live number: %v %v", resp.Status, err)
	}
	// Decided on the worker, the multi would have held it until its
	// lookup ended (at HLR_TIMEOUT_SECONDS); the data_sm came after.
	if n := tmt.inFlight.Load(); n != 1 {
		t.Fatalf("%d lookups at the HLR when the data_sm was answered, want 1 (the multi's, still held): the multi held the worker", n)
	}
	select {
	case st := <-answered:
		t.Fatalf("the submit_multi was answered (%s) before the data_sm: the multi held the workers", st)
	default:
	}
}
