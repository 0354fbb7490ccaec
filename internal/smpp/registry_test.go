package smpp_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func TestSessionInfosListsBoundSessions(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	tx := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	rx := mustDial(t, ts.addr, pdu.CmdBindReceiver)
	connect(t, ts.addr) // open, not bound: not listed
	for range 3 {
		if st, _, err := tx.Submit(ctxT(t), submit("4915000000001")); err != nil || st != pdu.StatusOK {
			t.Fatalf("submit: %v %v", st, err)
		}
	}
	infos := ts.srv.SessionInfos()
	if len(infos) != 2 {
		t.Fatalf("SessionInfos() = %d sessions, want 2: %+v", len(infos), infos)
	}
	byMode := map[smpp.BindMode]smpp.SessionInfo{}
	for _, in := range infos {
		byMode[in.Bind] = in
		if in.SystemID != "testuser" || in.BoundAt.IsZero() || !strings.HasPrefix(in.RemoteAddr, "127.0.0.1:") || in.TLS {
			t.Errorf("unexpected info %+v", in)
		}
		if in.InterfaceVersion != 0x34 {
			t.Errorf("interface_version = %#x, want 0x34", in.InterfaceVersion)
		}
	}
	if got := byMode[smpp.ModeTransmitter].Submits; got != 3 {
		t.Errorf("transmitter submits = %d, want 3", got)
	}
	if _, ok := byMode[smpp.ModeReceiver]; !ok {
		t.Errorf("no receiver in %+v", infos)
	}
	_ = rx
}

func TestUnbindSessionUnbindsThenCloses(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	victim := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	other := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	var id uint64
	for _, in := range ts.srv.SessionInfos() {
		if in.Bind == smpp.ModeTransceiver {
			id = in.ID
		}
	}
	if !ts.srv.UnbindSession(ctxT(t), id) {
		t.Fatal("UnbindSession of a bound session returned false")
	}
	select {
	case <-victim.Unbound():
	case <-time.After(5 * time.Second):
		t.Fatal("the client got no unbind")
	}
	select {
	case <-victim.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection was not closed")
	}
	if ts.srv.UnbindSession(ctxT(t), id) {
		t.Error("UnbindSession of a closed session returned true")
	}
	if ts.srv.UnbindSession(ctxT(t), 999999) {
		t.Error("UnbindSession of an unknown id returned true")
	}
	if st, _, err := other.Submit(ctxT(t), submit("4915000000001")); err != nil || st != pdu.StatusOK {
		t.Fatalf("the other session's submit: %v %v", st, err)
	}
}

func TestAccountMetricsCountOutcomes(t *testing.T) {
	reg := prometheus.NewRegistry()
	var mu sync.Mutex
	reject := false
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		mu.Lock()
		rj := reject
		mu.Unlock()
		if rj {
			r.RespondSubmitSM(pdu.StatusInvDstAdr, "")
			return
		}
		okHandler(r)
	})
	ts := startServer(t, smpp.Options{Handler: h, Registerer: reg})
	for _, id := range []string{"lan", "limited", "testuser"} {
		for _, status := range []string{"accepted", "rejected", "throttled"} {
			if got := gatherValue(t, reg, "smpp_account_submits_total", map[string]string{"system_id": id, "status": status}); got != 0 {
				t.Fatalf("before any traffic smpp_account_submits_total{%s,%s} = %v", id, status, got)
			}
		}
	}
	c, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "limited", "pw") // throughput 1/s, burst 1
	if err != nil {
		t.Fatal(err)
	}
	statuses := map[pdu.Status]int{}
	for range 3 {
		st, _, err := c.Submit(ctxT(t), submit("4915000000001"))
		if err != nil {
			t.Fatal(err)
		}
		statuses[st]++
	}
	mu.Lock()
	reject = true
	mu.Unlock()
	tx := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	if st, _, _ := tx.Submit(ctxT(t), submit("4915000000001")); st != pdu.StatusInvDstAdr {
		t.Fatalf("status %v, want ESME_RINVDSTADR", st)
	}
	checks := []struct {
		id, status string
		want       float64
	}{
		{"limited", "accepted", float64(statuses[pdu.StatusOK])},
		{"limited", "throttled", float64(statuses[pdu.StatusThrottled])},
		{"testuser", "rejected", 1},
		{"testuser", "accepted", 0},
	}
	for _, c := range checks {
		if got := gatherValue(t, reg, "smpp_account_submits_total", map[string]string{"system_id": c.id, "status": c.status}); got != c.want {
			t.Errorf("smpp_account_submits_total{%s,%s} = %v, want %v", c.id, c.status, got, c.want)
		}
	}
	if statuses[pdu.StatusThrottled] == 0 {
		t.Errorf("3 quick submits at 1/s: none throttled (%v)", statuses)
	}
	if got := gatherValue(t, reg, "smpp_account_binds", map[string]string{"system_id": "testuser", "bind": "transmitter"}); got != 1 {
		t.Errorf("smpp_account_binds{testuser,transmitter} = %v, want 1", got)
	}
	if got := gatherValue(t, reg, "smpp_account_binds", map[string]string{"system_id": "testuser", "bind": "receiver"}); got != 0 {
		t.Errorf("smpp_account_binds{testuser,receiver} = %v, want 0", got)
	}
}

// gatherValue returns the value of the sample of name with exactly labels,
// failing when there is none.
func gatherValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metrics
				}
			}
			if m.Counter != nil {
				return m.Counter.GetValue()
			}
			return m.Gauge.GetValue()
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

// TestSubmitMultiWithNoDestinationAcceptedCountsAsRejected: a
// submit_multi_resp is ESME_ROK whatever its destinations' fate; one with
// no message id (every destination refused) counts as rejected, one with
// an id as accepted.
func TestSubmitMultiWithNoDestinationAcceptedCountsAsRejected(t *testing.T) {
	h := smpp.HandlerFunc(func(r *smpp.Request) {
		m := r.PDU.Body.(*pdu.SubmitMulti)
		resp := &pdu.SubmitMultiResp{}
		for _, d := range m.Dests {
			if strings.HasPrefix(d.Address.Addr, "1") {
				resp.Unsuccess = append(resp.Unsuccess, pdu.UnsuccessSME{Address: d.Address, Status: pdu.StatusInvDstAdr})
			} else if resp.MessageID == "" {
				resp.MessageID = "0123456789ABCDEF"
			}
		}
		r.Respond(pdu.StatusOK, resp)
	})
	reg := prometheus.NewRegistry()
	ts := startServer(t, smpp.Options{Handler: h, Registerer: reg})
	c := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	multi := func(dests ...string) *pdu.SubmitMulti {
		m := &pdu.SubmitMulti{Source: pdu.Address{TON: 1, NPI: 1, Addr: "4915123456789"}, ShortMessage: "hello"}
		for _, d := range dests {
			m.Dests = append(m.Dests, pdu.DestAddress{Address: pdu.Address{TON: 1, NPI: 1, Addr: d}})
		}
		return m
	}
	for _, m := range []*pdu.SubmitMulti{multi("13476841841", "13476841842"), multi("13476841841", "40722570240")} {
		if p, err := c.Send(ctxT(t), m); err != nil || p.Status != pdu.StatusOK {
			t.Fatalf("submit_multi: %v %v", p.Status, err)
		}
	}
	for status, want := range map[string]float64{"accepted": 1, "rejected": 1} {
		if got := gatherValue(t, reg, "smpp_account_submits_total", map[string]string{"system_id": "testuser", "status": status}); got != want {
			t.Errorf("smpp_account_submits_total{testuser,%s} = %v, want %v", status, got, want)
		}
	}
}
