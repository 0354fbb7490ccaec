package smpp_test

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

func header(length uint32, cmd pdu.CommandID, seq uint32) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b[0:], length)
	binary.BigEndian.PutUint32(b[4:], uint32(cmd))
	binary.BigEndian.PutUint32(b[12:], seq)
	return b
}

// frame builds a PDU around a raw body.
func frame(cmd pdu.CommandID, seq uint32, body []byte) []byte {
	return append(header(uint32(16+len(body)), cmd, seq), body...)
}

func cstr(s string) []byte { return append([]byte(s), 0) }

func submitBody(dest string, smLength int, sm string) []byte {
	return submitBodyPriority(dest, 0, smLength, sm)
}

func submitBodyPriority(dest string, priority byte, smLength int, sm string) []byte {
	var b []byte
	b = append(b, 0)                          // service_type
	b = append(b, 1, 1)                       // source ton, npi
	b = append(b, cstr("4915123456789")...)   // source_addr
	b = append(b, 1, 1)                       // dest ton, npi
	b = append(b, cstr(dest)...)              // destination_addr
	b = append(b, 0, 0, priority)             // esm_class, protocol_id, priority_flag
	b = append(b, 0, 0)                       // schedule_delivery_time, validity_period
	b = append(b, 0, 0, 0, 0, byte(smLength)) // registered_delivery, replace, data_coding, sm_default_msg_id, sm_length
	return append(b, sm...)
}

// readPDU reads one PDU from a raw connection, or reports a close.
func readPDU(t *testing.T, conn net.Conn) (pdu.PDU, bool) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	h := make([]byte, 16)
	if _, err := io.ReadFull(conn, h); err != nil {
		return pdu.PDU{}, false
	}
	n := binary.BigEndian.Uint32(h)
	body := make([]byte, n-16)
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatalf("short PDU: %v", err)
	}
	p, err := pdu.Decode(append(h, body...))
	if err != nil {
		t.Fatalf("server sent a PDU we cannot decode: %v", err)
	}
	return p, true
}

// rawConn is a raw connection, bound as a transceiver when bound is set.
func rawConn(t *testing.T, addr string, bound bool) net.Conn {
	t.Helper()
	if bound {
		return rawBound(t, addr)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func rawBound(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	bind := pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdBindTransceiver, Sequence: 1},
		Body: &pdu.Bind{Command: pdu.CmdBindTransceiver, SystemID: "testuser", Password: "testpass", InterfaceVersion: 0x34}})
	if _, err := conn.Write(bind); err != nil {
		t.Fatal(err)
	}
	if p, ok := readPDU(t, conn); !ok || p.Status != pdu.StatusOK {
		t.Fatalf("bind: %+v", p.Header)
	}
	return conn
}

func TestMalformedInput(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	bystander := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	long := make([]byte, 40)
	for i := range long {
		long[i] = '1'
	}
	tests := []struct {
		name       string
		input      []byte
		wantCmd    pdu.CommandID // 0: no answer expected
		wantStatus pdu.Status
		wantSeq    uint32
		wantClose  bool
		unbound    bool // sent before any bind
	}{
		{"command_length 0", header(0, pdu.CmdSubmitSM, 7), pdu.CmdGenericNack, pdu.StatusInvCmdLen, 7, true, false},
		{"command_length 15", header(15, pdu.CmdSubmitSM, 8), pdu.CmdGenericNack, pdu.StatusInvCmdLen, 8, true, false},
		{"command_length 2^31", header(1<<31, pdu.CmdSubmitSM, 9), pdu.CmdGenericNack, pdu.StatusInvCmdLen, 9, true, false},
		// A frame shorter than a header, sent whole: answered at once (no
		// sequence number to echo), not left waiting for 16 octets.
		{"command_length 12, its 12 octets", header(12, pdu.CmdEnquireLink, 19)[:12], pdu.CmdGenericNack, pdu.StatusInvCmdLen, 0, true, false},
		{"command_length 8 before bind", header(8, pdu.CmdEnquireLink, 20)[:8], pdu.CmdGenericNack, pdu.StatusInvCmdLen, 0, true, true},
		{"truncated body", frame(pdu.CmdSubmitSM, 10, []byte{0, 1, 1, '4', '9'}), pdu.CmdSubmitSMResp, pdu.StatusInvMsgLen, 10, false, false},
		{"over-long destination_addr", frame(pdu.CmdSubmitSM, 11, submitBody(string(long), 2, "hi")), pdu.CmdSubmitSMResp, pdu.StatusInvDstAdr, 11, false, false},
		{"sm_length past the body", frame(pdu.CmdSubmitSM, 12, submitBody("40722570240", 200, "hi")), pdu.CmdSubmitSMResp, pdu.StatusInvMsgLen, 12, false, false},
		{"over-long system_id", frame(pdu.CmdBindTransmitter, 13, append(long, 0)), pdu.CmdBindTransmitterResp, pdu.StatusInvSysID, 13, false, true},
		// The state is judged from the header, before the body.
		{"bind once bound, malformed", frame(pdu.CmdBindTransmitter, 14, append(long, 0)), pdu.CmdBindTransmitterResp, pdu.StatusAlyBnd, 14, false, false},
		{"malformed submit before bind", frame(pdu.CmdSubmitSM, 15, []byte{0, 1, 1, '4', '9'}), pdu.CmdSubmitSMResp, pdu.StatusInvBndSts, 15, false, true},
		{"enquire_link before bind", header(16, pdu.CmdEnquireLink, 21), pdu.CmdEnquireLinkResp, pdu.StatusInvBndSts, 21, false, true},
		{"unknown command before bind", frame(0x00000099, 16, nil), pdu.CmdGenericNack, pdu.StatusInvCmdID, 16, false, true},
		{"unknown response command_id", frame(0x80000099, 17, nil), pdu.CmdGenericNack, pdu.StatusInvCmdID, 17, false, false},
		{"priority_flag 4", frame(pdu.CmdSubmitSM, 18, submitBodyPriority("40722570240", 4, 2, "hi")), pdu.CmdSubmitSMResp, pdu.StatusInvPrtFlg, 18, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := rawConn(t, ts.addr, !tt.unbound)
			if _, err := conn.Write(tt.input); err != nil {
				t.Fatal(err)
			}
			p, ok := readPDU(t, conn)
			if !ok {
				t.Fatal("connection closed without an answer")
			}
			if p.Command != tt.wantCmd || p.Status != tt.wantStatus || p.Sequence != tt.wantSeq {
				t.Fatalf("got %s %s seq %d, want %s %s seq %d", p.Command, p.Status, p.Sequence, tt.wantCmd, tt.wantStatus, tt.wantSeq)
			}
			if p.Length != pdu.HeaderLen {
				t.Fatalf("error response is %d octets, want the bare header", p.Length)
			}
			_, open := readPDUOrEnquire(t, conn)
			if open == tt.wantClose {
				t.Fatalf("connection open=%v after the answer, want open=%v", open, !tt.wantClose)
			}
			if err := bystander.EnquireLink(ctxT(t)); err != nil {
				t.Fatalf("the other session noticed: %v", err)
			}
		})
	}
}

// readPDUOrEnquire checks whether a raw session is still usable by sending
// enquire_link and waiting for its answer.
func readPDUOrEnquire(t *testing.T, conn net.Conn) (pdu.PDU, bool) {
	t.Helper()
	if _, err := conn.Write(header(16, pdu.CmdEnquireLink, 99)); err != nil {
		return pdu.PDU{}, false
	}
	return readPDU(t, conn)
}

func TestRandomBytesNeverPanic(t *testing.T) {
	ts := startServer(t, smpp.Options{})
	bystander := mustDial(t, ts.addr, pdu.CmdBindTransceiver)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		conn, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		junk := make([]byte, 1+rng.IntN(300))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if i%2 == 0 && len(junk) >= 4 {
			// A plausible length makes the server decode the junk body.
			binary.BigEndian.PutUint32(junk, uint32(len(junk)))
		}
		_, _ = conn.Write(junk)
		_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = io.Copy(io.Discard, conn)
		conn.Close()
	}
	if err := bystander.EnquireLink(ctxT(t)); err != nil {
		t.Fatalf("the other session noticed: %v", err)
	}
}
