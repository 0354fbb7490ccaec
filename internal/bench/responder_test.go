package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// wire is a raw connection to the responder: requests are encoded and
// answers decoded with the gateway's codec, so the responder's hand-made
// PDUs are checked against it.
type wire struct {
	t  *testing.T
	nc net.Conn
	sc *bufio.Scanner
}

func dialWire(t *testing.T, addr string) *wire {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	// A deadline instead of a timing assertion: a missing answer fails
	// the test rather than hanging it.
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	sc := bufio.NewScanner(nc)
	sc.Split(pdu.SplitFunc(pdu.DefaultMaxLength))
	return &wire{t: t, nc: nc, sc: sc}
}

func (w *wire) send(seq uint32, body pdu.Body) {
	w.t.Helper()
	w.raw(pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: body.CommandID(), Sequence: seq}, Body: body}))
}

func (w *wire) raw(frame []byte) {
	w.t.Helper()
	if _, err := w.nc.Write(frame); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wire) read() pdu.PDU {
	w.t.Helper()
	if !w.sc.Scan() {
		w.t.Fatalf("no PDU: %v", w.sc.Err())
	}
	p, err := pdu.Decode(w.sc.Bytes())
	if err != nil {
		w.t.Fatalf("decode % X: %v", w.sc.Bytes(), err)
	}
	return p
}

// closed reports whether the responder closed the connection.
func (w *wire) closed() bool {
	return !w.sc.Scan() && w.sc.Err() == nil
}

func (w *wire) expect(want pdu.CommandID, status pdu.Status, seq uint32) pdu.PDU {
	w.t.Helper()
	p := w.read()
	if p.Command != want || p.Status != status || p.Sequence != seq {
		w.t.Fatalf("got %s %s seq %d, want %s %s seq %d", p.Command, p.Status, p.Sequence, want, status, seq)
	}
	return p
}

func submitSM(src, dst string) *pdu.SubmitSM {
	return &pdu.SubmitSM{SM: pdu.SM{
		Source:       pdu.Address{TON: 5, Addr: src},
		Dest:         pdu.Address{TON: 1, NPI: 1, Addr: dst},
		ShortMessage: "hi",
	}}
}

var receiptText = regexp.MustCompile(`^id:([0-9A-F]{16}) sub:001 dlvrd:000 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:$`)

func TestResponderAnswersEachRequest(t *testing.T) {
	resp, addr := startResponder(t, ResponderConfig{Receipts: true})
	w := dialWire(t, addr)
	w.send(1, &pdu.Bind{Command: pdu.CmdBindTransceiver, SystemID: "anyone", Password: "any", InterfaceVersion: 0x34})
	if b := w.expect(pdu.CmdBindTransceiverResp, pdu.StatusOK, 1).Body.(*pdu.BindResp); b.SystemID != responderSystemID {
		t.Fatalf("bind_resp system_id %q", b.SystemID)
	}
	w.send(2, submitSM("BENCH", "4099000001"))
	id := w.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, 2).Body.(*pdu.SubmitSMResp).MessageID
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(id) {
		t.Fatalf("message id %q", id)
	}
	p := w.expect(pdu.CmdDeliverSM, pdu.StatusOK, 1)
	d := p.Body.(*pdu.DeliverSM)
	if m := receiptText.FindStringSubmatch(d.ShortMessage); m == nil || m[1] != id {
		t.Fatalf("receipt text %q for id %s", d.ShortMessage, id)
	}
	if d.ESMClass != 0x04 || d.Source.Addr != "4099000001" || d.Source.TON != 1 || d.Dest.Addr != "BENCH" || d.Dest.TON != 5 {
		t.Fatalf("receipt %+v", d.SM)
	}
	if tid, _ := d.TLVs.CString(pdu.TagReceiptedMessageID); tid != id {
		t.Fatalf("receipted_message_id %q, want %s", tid, id)
	}
	if st, ok := d.TLVs.Get(pdu.TagMessageState); !ok || st != string([]byte{byte(pdu.StateDelivered)}) {
		t.Fatalf("message_state % X %v", st, ok)
	}
	w.raw(pdu.AppendHeader(nil, pdu.CmdDeliverSMResp, pdu.StatusOK, p.Sequence))

	w.send(3, &pdu.EnquireLink{})
	w.expect(pdu.CmdEnquireLinkResp, pdu.StatusOK, 3)
	w.send(4, &pdu.QuerySM{MessageID: id, Source: pdu.Address{Addr: "BENCH"}})
	w.expect(pdu.CmdGenericNack, pdu.StatusInvCmdID, 4)
	w.send(5, &pdu.Unbind{})
	w.expect(pdu.CmdUnbindResp, pdu.StatusOK, 5)
	if !w.closed() {
		t.Fatal("still open after unbind")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := resp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st := resp.Stats(); st != (ResponderStats{Submits: 1, Receipts: 1, Other: 1}) {
		t.Fatalf("stats %+v", st)
	}
}

func TestResponderIDsAreUnique(t *testing.T) {
	_, addr := startResponder(t, ResponderConfig{})
	seen := map[string]bool{}
	for range 3 {
		w := dialWire(t, addr)
		w.send(1, &pdu.Bind{Command: pdu.CmdBindTransmitter, SystemID: "a", InterfaceVersion: 0x34})
		w.expect(pdu.CmdBindTransmitterResp, pdu.StatusOK, 1)
		for seq := uint32(2); seq < 50; seq++ {
			w.send(seq, submitSM("A", "1"))
			id := w.expect(pdu.CmdSubmitSMResp, pdu.StatusOK, seq).Body.(*pdu.SubmitSMResp).MessageID
			if seen[id] {
				t.Fatalf("id %s twice", id)
			}
			seen[id] = true
		}
	}
}

func TestResponderClosesOnBadLength(t *testing.T) {
	for name, length := range map[string]uint32{"below the header": 15, "above 64 KiB": maxCommandLength + 1} {
		t.Run(name, func(t *testing.T) {
			_, addr := startResponder(t, ResponderConfig{})
			w := dialWire(t, addr)
			frame := pdu.AppendHeader(nil, pdu.CmdEnquireLink, 0, 7)
			binary.BigEndian.PutUint32(frame, length)
			w.raw(frame)
			w.expect(pdu.CmdGenericNack, pdu.StatusInvCmdLen, 7)
			if !w.closed() {
				t.Fatal("still open after a bad command_length")
			}
		})
	}
}

func TestResponderShutdownUnbinds(t *testing.T) {
	resp, addr := startResponder(t, ResponderConfig{})
	w := dialWire(t, addr)
	w.send(1, &pdu.Bind{Command: pdu.CmdBindReceiver, SystemID: "a", InterfaceVersion: 0x34})
	w.expect(pdu.CmdBindReceiverResp, pdu.StatusOK, 1)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- resp.Shutdown(ctx)
	}()
	u := w.read()
	if u.Command != pdu.CmdUnbind {
		t.Fatalf("got %s, want unbind", u.Command)
	}
	w.raw(pdu.AppendHeader(nil, pdu.CmdUnbindResp, pdu.StatusOK, u.Sequence))
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if !w.closed() {
		t.Fatal("still open after unbind_resp")
	}
}

func TestSubmitAddressesRefusesMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"empty":                 "",
		"no NUL":                "CMT",
		"service_type too long": "ABCDEFG\x00",
		"source cut":            "\x00\x05\x00BEN",
		"source too long":       "\x00\x05\x00" + strings.Repeat("1", 21) + "\x00\x01\x01\x00",
		"no destination":        "\x00\x05\x00B\x00",
	} {
		if _, _, ok := submitAddresses([]byte(body)); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	src, dst, ok := submitAddresses([]byte("\x00\x05\x00B\x00\x01\x01\x34\x39\x00rest"))
	if !ok || string(src) != "\x05\x00B\x00" || string(dst) != "\x01\x0149\x00" {
		t.Fatalf("src % X dst % X ok %v", src, dst, ok)
	}
}
