package smpp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func TestBind(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	tests := []struct {
		name     string
		bind     pdu.CommandID
		systemID string
		password string
		want     pdu.Status
	}{
		{"transmitter", pdu.CmdBindTransmitter, "testuser", "testpass", pdu.StatusOK},
		{"receiver", pdu.CmdBindReceiver, "testuser", "testpass", pdu.StatusOK},
		{"transceiver", pdu.CmdBindTransceiver, "testuser", "testpass", pdu.StatusOK},
		{"wrong password", pdu.CmdBindTransceiver, "testuser", "nope", pdu.StatusInvPaswd},
		{"unknown system_id", pdu.CmdBindTransmitter, "nobody", "testpass", pdu.StatusInvSysID},
		{"network not allowed", pdu.CmdBindTransmitter, "lan", "pw", pdu.StatusBindFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connect(t, ts.addr)
			resp, err := c.Send(ctxT(t), &pdu.Bind{Command: tt.bind, SystemID: tt.systemID, Password: tt.password, InterfaceVersion: 0x34})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.want || resp.Command != tt.bind.Response() {
				t.Fatalf("got %s %s, want %s %s", resp.Command, resp.Status, tt.bind.Response(), tt.want)
			}
			br, _ := resp.Body.(*pdu.BindResp)
			if tt.want == pdu.StatusOK && (br == nil || br.SystemID != "smpp-hlr-gw") {
				t.Fatalf("bind resp body %+v, want the server's system_id", resp.Body)
			}
			if tt.want != pdu.StatusOK && resp.Length != pdu.HeaderLen {
				t.Fatalf("error bind resp is %d octets, want the bare header", resp.Length)
			}
		})
	}
}

func TestStateTable(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	t.Run("submit before bind", func(t *testing.T) {
		c := connect(t, ts.addr)
		resp, err := c.Send(ctxT(t), submit("40722570240"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Command != pdu.CmdSubmitSMResp || resp.Status != pdu.StatusInvBndSts {
			t.Fatalf("got %s %s, want submit_sm_resp ESME_RINVBNDSTS", resp.Command, resp.Status)
		}
	})
	t.Run("submit on receiver", func(t *testing.T) {
		c := mustDial(t, ts.addr, pdu.CmdBindReceiver)
		resp, err := c.Send(ctxT(t), submit("40722570240"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != pdu.StatusInvBndSts {
			t.Fatalf("got %s, want ESME_RINVBNDSTS", resp.Status)
		}
	})
	t.Run("data_sm on receiver", func(t *testing.T) {
		c := mustDial(t, ts.addr, pdu.CmdBindReceiver)
		resp, err := c.Send(ctxT(t), &pdu.DataSM{Source: pdu.Address{Addr: "1234"}, Dest: pdu.Address{Addr: "40722570240"}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Command != pdu.CmdDataSMResp || resp.Status != pdu.StatusInvBndSts {
			t.Fatalf("got %s %s, want data_sm_resp ESME_RINVBNDSTS", resp.Command, resp.Status)
		}
	})
	t.Run("second bind", func(t *testing.T) {
		c := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
		resp, err := c.Send(ctxT(t), &pdu.Bind{Command: pdu.CmdBindReceiver, SystemID: "testuser", Password: "testpass"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Command != pdu.CmdBindReceiverResp || resp.Status != pdu.StatusAlyBnd {
			t.Fatalf("got %s %s, want bind_receiver_resp ESME_RALYBND", resp.Command, resp.Status)
		}
	})
	t.Run("submit on transmitter", func(t *testing.T) {
		c := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
		status, id, err := c.Submit(ctxT(t), submit("40722570240"))
		if err != nil || status != pdu.StatusOK || id != "0123456789ABCDEF" {
			t.Fatalf("got %s %q %v", status, id, err)
		}
	})
	t.Run("unbind before bind", func(t *testing.T) {
		c := connect(t, ts.addr)
		resp, err := c.Send(ctxT(t), &pdu.Unbind{})
		if err != nil || resp.Status != pdu.StatusInvBndSts {
			t.Fatalf("got %+v %v, want ESME_RINVBNDSTS", resp.Header, err)
		}
	})
}

func TestUnknownCommandGetsGenericNack(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	for _, bound := range []bool{false, true} {
		c := connect(t, ts.addr)
		if bound {
			c = mustDial(t, ts.addr, pdu.CmdBindTransceiver)
		}
		frame := []byte{0, 0, 0, 16, 0x00, 0x00, 0x01, 0x99, 0, 0, 0, 0, 0x12, 0x34, 0x56, 0x78}
		resp, err := c.SendFrame(ctxT(t), 0x12345678, frame)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Command != pdu.CmdGenericNack || resp.Status != pdu.StatusInvCmdID || resp.Sequence != 0x12345678 {
			t.Fatalf("bound=%v: got %s %s seq %#x", bound, resp.Command, resp.Status, resp.Sequence)
		}
		if err := c.EnquireLink(ctxT(t)); err != nil {
			t.Fatalf("session did not survive: %v", err)
		}
	}
}

func TestEnquireLinkAndUnbind(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	c := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	if err := c.EnquireLink(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Send(ctxT(t), &pdu.Unbind{})
	if err != nil || resp.Command != pdu.CmdUnbindResp || resp.Status != pdu.StatusOK {
		t.Fatalf("unbind: %+v %v", resp.Header, err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("server kept the connection after unbind_resp")
	}
}

func TestTLSBind(t *testing.T) {
	srvTLS := selfSignedTLS(t)
	srv, err := smpp.NewServer(smpp.Options{Handler: smpp.HandlerFunc(okHandler), Auth: smpp.NewAccounts(defaultAccounts())})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(tls.NewListener(ln, srvTLS)) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	c, err := esme.Dial(ctxT(t), esme.Config{Addr: ln.Addr().String(), TLS: &tls.Config{InsecureSkipVerify: true}, SystemID: "testuser", Password: "testpass"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if status, _, err := c.Submit(ctxT(t), submit("40722570240")); err != nil || status != pdu.StatusOK {
		t.Fatalf("submit over TLS: %s %v", status, err)
	}
}

func TestThroughputLimit(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	c, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "limited", "pw")
	if err != nil {
		t.Fatal(err)
	}
	// 1 message per second with a burst of 1: of three at once, the
	// later ones are throttled.
	var statuses []pdu.Status
	for range 3 {
		st, _, err := c.Submit(ctxT(t), submit("40722570240"))
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, st)
	}
	if statuses[0] != pdu.StatusOK || statuses[2] != pdu.StatusThrottled {
		t.Fatalf("statuses %v, want ESME_ROK first and ESME_RTHROTTLED last", statuses)
	}
}

func TestMaxBinds(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	if _, err := dial(t, ts.addr, pdu.CmdBindTransmitter, "limited", "pw"); err != nil {
		t.Fatal(err)
	}
	_, err := dial(t, ts.addr, pdu.CmdBindReceiver, "limited", "pw")
	var be *esme.BindError
	if !errors.As(err, &be) || be.Status != pdu.StatusBindFail {
		t.Fatalf("second bind: %v, want ESME_RBINDFAIL", err)
	}
}

// TestMaxBindsPerAccount: an account that sets no max_binds holds at most
// MaxBindsPerAccount binds, so its clients cannot take every connection
// of the server; another account still binds, and an account's own
// max_binds replaces the default, higher or lower.
func TestMaxBindsPerAccount(t *testing.T) {
	ts := startServer(t, smpp.Options{MaxBindsPerAccount: 2, Auth: smpp.NewAccounts([]smpp.Account{
		{SystemID: "testuser", Password: "testpass"},
		{SystemID: "other", Password: "pw"},
		{SystemID: "big", Password: "pw", MaxBinds: 3},
	})})
	bindStatus := func(system, password string) pdu.Status {
		t.Helper()
		_, err := dial(t, ts.addr, pdu.CmdBindTransceiver, system, password)
		var be *esme.BindError
		switch {
		case err == nil:
			return pdu.StatusOK
		case errors.As(err, &be):
			return be.Status
		}
		t.Fatalf("bind %s: %v", system, err)
		return 0
	}
	for i, want := range []pdu.Status{pdu.StatusOK, pdu.StatusOK, pdu.StatusBindFail} {
		if got := bindStatus("testuser", "testpass"); got != want {
			t.Fatalf("bind %d of an account without max_binds: %s, want %s", i+1, got, want)
		}
	}
	if got := bindStatus("other", "pw"); got != pdu.StatusOK {
		t.Fatalf("another account's bind: %s, want ESME_ROK", got)
	}
	for i, want := range []pdu.Status{pdu.StatusOK, pdu.StatusOK, pdu.StatusOK, pdu.StatusBindFail} {
		if got := bindStatus("big", "pw"); got != want {
			t.Fatalf("bind %d of an account with max_binds 3: %s, want %s", i+1, got, want)
		}
	}
}

func TestWindowLimit(t *testing.T) {
	release := make(chan struct{})
	held := make(chan *smpp.Request, 8)
	h := smpp.HandlerFunc(func(r *smpp.Request) { held <- r })
	ts := startServer(t, smpp.Options{Handler: h, Window: 2})
	defer close(release)
	c := mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	results := make(chan pdu.PDU, 3)
	for range 3 {
		c.SendAsync(submit("40722570240"), func(p pdu.PDU, err error) { results <- p })
	}
	// Two requests fill the window; the third is answered at once.
	first := <-results
	if first.Status != pdu.StatusThrottled {
		t.Fatalf("got %s, want ESME_RTHROTTLED while the window is full", first.Status)
	}
	for range 2 {
		r := <-held
		r.RespondSubmitSM(pdu.StatusOK, "0123456789ABCDEF")
	}
	for range 2 {
		if p := <-results; p.Status != pdu.StatusOK {
			t.Fatalf("held request answered %s", p.Status)
		}
	}
}

func TestServerSendsDeliverSMToReceiver(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	got := make(chan *pdu.DeliverSM, 1)
	c, err := esme.Dial(ctxT(t), esme.Config{Addr: ts.addr, SystemID: "testuser", Password: "testpass", Bind: pdu.CmdBindReceiver,
		OnDeliver: func(d *pdu.DeliverSM) pdu.Status { got <- d; return pdu.StatusXTAppn }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := ts.srv.NextReceiver("testuser")
	if s == nil {
		t.Fatal("no receiver registered")
	}
	resp, err := s.SendWait(ctxT(t), &pdu.DeliverSM{SM: pdu.SM{ESMClass: 4, ShortMessage: "id:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Command != pdu.CmdDeliverSMResp || resp.Status != pdu.StatusXTAppn {
		t.Fatalf("got %s %s", resp.Command, resp.Status)
	}
	if d := <-got; d.ShortMessage != "id:1" || d.ESMClass != 4 {
		t.Fatalf("client got %+v", d)
	}
	if ts.srv.NextReceiver("nobody") != nil {
		t.Fatal("receiver for an account that is not bound")
	}
}

func TestTransmitterIsNotAReceiver(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	mustDial(t, ts.addr, pdu.CmdBindTransmitter)
	if ts.srv.NextReceiver("testuser") != nil {
		t.Fatal("a transmitter bind was offered as a receiver")
	}
}
