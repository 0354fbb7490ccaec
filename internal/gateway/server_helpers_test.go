package gateway

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// memoryHLR knows every number: those starting 1999 are live (rejected)
// and answered from memory, on the session's reader; the others are not
// numbers in service (accepted) and are looked up, on a worker.
type memoryHLR struct{ live hlr.Result }

func newMemoryHLR() *memoryHLR {
	return &memoryHLR{live: hlr.Result{Class: hlr.ClassValid, Reason: "valid"}}
}

func (*memoryHLR) Lookup(_ context.Context, msisdn string) (hlr.Result, error) {
	if strings.HasPrefix(msisdn, "1999") {
		return hlr.Result{Class: hlr.ClassValid, Reason: "valid"}, nil
	}
	return hlr.Result{Class: hlr.ClassInvalid, ErrCode: "001", Reason: "unknown_subscriber"}, nil
}

func (m *memoryHLR) Cached(msisdn string) (*hlr.Result, bool) {
	if !strings.HasPrefix(msisdn, "1999") {
		return nil, false
	}
	return &m.live, true
}

// noReceipts stores every receipt at once.
type noReceipts struct{}

func (noReceipts) Schedule(context.Context, dlr.Receipt) error          { return nil }
func (noReceipts) ScheduleAsync(_ dlr.Receipt, done func(error))        { done(nil) }
func (noReceipts) Accepted(_ dlr.Receipt, done func())                  { done() }
func (noReceipts) Cancel(context.Context, string, string) (bool, error) { return false, nil }
func (noReceipts) Lookup(context.Context, string, string) (dlr.Outcome, bool, error) {
	return dlr.Outcome{}, false, nil
}
func (noReceipts) PendingCount(context.Context, string) (int, error) { return 0, nil }

func submitPDU(seq uint32, dest string) []byte {
	return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdSubmitSM, Sequence: seq}, Body: &pdu.SubmitSM{SM: pdu.SM{
		Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: dest}, ShortMessage: "hello",
	}}})
}

// readResponse reads one PDU from the server.
func readResponse(t testing.TB, conn net.Conn) (pdu.PDU, error) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	h := make([]byte, 16)
	if _, err := io.ReadFull(conn, h); err != nil {
		return pdu.PDU{}, err
	}
	frame := make([]byte, binary.BigEndian.Uint32(h))
	copy(frame, h)
	if _, err := io.ReadFull(conn, frame[16:]); err != nil {
		return pdu.PDU{}, err
	}
	return pdu.Decode(frame)
}

// serveOneClient serves h on 127.0.0.1 and binds one raw transmitter of
// the account alice to it.
func serveOneClient(t testing.TB, h *Handler) (*smpp.Server, net.Conn) {
	t.Helper()
	return serveOneClientAs(t, h, smpp.NewAccounts([]smpp.Account{{SystemID: "alice", Password: "pw"}}))
}

// serveOneClientAs is serveOneClient with the server's accounts, which
// must hold alice with the password pw.
func serveOneClientAs(t testing.TB, h *Handler, accounts *smpp.Accounts) (*smpp.Server, net.Conn) {
	t.Helper()
	srv, err := smpp.NewServer(smpp.Options{Handler: h, Auth: accounts,
		Registerer: prometheus.NewRegistry(), EnquireLinkInterval: -1, InactivityTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	bind := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransmitter, Sequence: 1},
		Body: &pdu.Bind{Command: pdu.CmdBindTransmitter, SystemID: "alice", Password: "pw", InterfaceVersion: 0x34}})
	if _, err := conn.Write(bind); err != nil {
		t.Fatal(err)
	}
	if p, err := readResponse(t, conn); err != nil || p.Status != pdu.StatusOK {
		t.Fatalf("bind: %v %v", p.Header, err)
	}
	return srv, conn
}

// stopServing hangs up and waits for the server's readers and the
// handler's workers to end.
func stopServing(t testing.TB, srv *smpp.Server, h *Handler, conn net.Conn) {
	t.Helper()
	_ = conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil { // every reader has ended
		t.Fatal(err)
	}
	h.Close(ctx)
}
