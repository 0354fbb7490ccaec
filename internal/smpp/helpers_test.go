package smpp_test

import (
	"context"
	"crypto/tls"
	"net/netip"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
	"github.com/smpp-hlr-gateway/gateway/internal/testcert"
)

type testServer struct {
	srv  *smpp.Server
	addr string
}

// okHandler answers submit_sm with a fixed message id and every other
// request with an empty OK body.
func okHandler(r *smpp.Request) {
	switch r.PDU.Command {
	case pdu.CmdSubmitSM:
		r.RespondSubmitSM(pdu.StatusOK, "0123456789ABCDEF")
	case pdu.CmdDataSM:
		r.Respond(pdu.StatusOK, &pdu.DataSMResp{MessageID: "0123456789ABCDEF"})
	default:
		r.Respond(pdu.StatusSysErr, nil)
	}
}

func defaultAccounts() []smpp.Account {
	return []smpp.Account{
		{SystemID: "testuser", Password: "testpass"},
		{SystemID: "limited", Password: "pw", MaxBinds: 1, Throughput: 1},
		{SystemID: "lan", Password: "pw", AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	}
}

func startServer(t *testing.T, opts smpp.Options) *testServer {
	t.Helper()
	ts, _ := startServerOn(t, opts, nil)
	return ts
}

func dial(t *testing.T, addr string, bind pdu.CommandID, systemID, password string) (*esme.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: systemID, Password: password, Bind: bind, ResponseTimeout: 5 * time.Second})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func mustDial(t *testing.T, addr string, bind pdu.CommandID) *esme.Client {
	t.Helper()
	c, err := dial(t, addr, bind, "testuser", "testpass")
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	return c
}

func connect(t *testing.T, addr string) *esme.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esme.Connect(ctx, esme.Config{Addr: addr, ResponseTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func submit(dest string) *pdu.SubmitSM {
	return &pdu.SubmitSM{SM: pdu.SM{
		Source:       pdu.Address{TON: 1, NPI: 1, Addr: "4915123456789"},
		Dest:         pdu.Address{TON: 1, NPI: 1, Addr: dest},
		ShortMessage: "hello",
	}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// selfSignedTLS returns a server config for 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config { return testcert.ServerConfig(t) }
