package smpp_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func TestShutdownAnswersInFlightThenUnbinds(t *testing.T) {
	held := make(chan *smpp.Request, 4)
	h := smpp.HandlerFunc(func(r *smpp.Request) { held <- r })
	srv, err := smpp.NewServer(smpp.Options{Handler: h, Auth: smpp.NewAccounts(defaultAccounts())})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	events := make(chan string, 8)
	c, err := esme.Dial(ctxT(t), esme.Config{Addr: ln.Addr().String(), SystemID: "testuser", Password: "testpass"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SendAsync(submit("40722570240"), func(p pdu.PDU, err error) {
		if err == nil && p.Status == pdu.StatusOK {
			events <- "submit_sm_resp"
		} else {
			events <- "submit failed"
		}
	})
	req := <-held

	shutdownDone := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shutdownDone <- srv.Shutdown(ctx)
	}()
	// Serve returns once the listener is closed; new connections are
	// refused from then on, while the session stays up.
	if err := <-served; err != smpp.ErrServerClosed {
		t.Fatalf("Serve: %v", err)
	}
	// Ask the listener itself: dialling its old port could reach whatever
	// took the port since, or connect to itself (TCP self-connect).
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener still accepting after Shutdown began: Accept: %v", err)
	}
	req.RespondSubmitSM(pdu.StatusOK, "0123456789ABCDEF")
	go func() {
		<-c.Unbound()
		events <- "unbind"
	}()
	if e := <-events; e != "submit_sm_resp" {
		t.Fatalf("first event %q, want the in-flight submit answered", e)
	}
	if e := <-events; e != "unbind" {
		t.Fatalf("second event %q, want unbind", e)
	}
	if err := <-shutdownDone; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("connection still open after Shutdown")
	}
}

func TestStopAcceptingRefusesNewMessages(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	c := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	ts.srv.StopAccepting()
	status, id, err := c.Submit(ctxT(t), submit("40722570240"))
	if err != nil || status != pdu.StatusThrottled || id != "" {
		t.Fatalf("submit while stopping: %s %q %v, want ESME_RTHROTTLED", status, id, err)
	}
	if err := c.EnquireLink(ctxT(t)); err != nil {
		t.Fatalf("enquire_link while stopping: %v", err)
	}
	if ts.srv.NextReceiver("testuser") == nil {
		t.Fatal("the receiver left the routing table before unbind: its receipts could not be sent")
	}
}

func TestMaxConnections(t *testing.T) {
	ts := startServer(t, smpp.Options{MaxConnections: 1})
	mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A served connection answers enquire_link even before a bind.
	if p, ok := readPDUOrEnquire(t, conn); ok {
		t.Fatalf("a connection beyond SMPP_MAX_CONNECTIONS was served: %s", p.Command)
	}
}
