package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// memoryHLR knows every number: those starting 1999 are live (rejected)
// and answered from memory, on the session's reader; the others are not
// numbers in service (accepted) and are looked up, on a worker.
type memoryHLR struct{}

func (memoryHLR) Lookup(_ context.Context, msisdn string) (hlr.Result, error) {
	if strings.HasPrefix(msisdn, "1999") {
		return hlr.Result{Class: hlr.ClassValid, Reason: "valid"}, nil
	}
	return hlr.Result{Class: hlr.ClassInvalid, ErrCode: "001", Reason: "unknown_subscriber"}, nil
}

func (memoryHLR) Cached(msisdn string) (*hlr.Result, bool) {
	if !strings.HasPrefix(msisdn, "1999") {
		return nil, false
	}
	return &hlr.Result{Class: hlr.ClassValid, Reason: "valid"}, true
}

// noReceipts stores every receipt at once.
type noReceipts struct{}

func (noReceipts) Schedule(context.Context, dlr.Receipt) error          { return nil }
func (noReceipts) ScheduleAsync(_ dlr.Receipt, done func(error))        { done(nil) }
func (noReceipts) Accepted(dlr.Receipt)                                 {}
func (noReceipts) Cancel(context.Context, string, string) (bool, error) { return false, nil }
func (noReceipts) Lookup(context.Context, string, string) (dlr.Outcome, bool, error) {
	return dlr.Outcome{}, false, nil
}
func (noReceipts) PendingCount(context.Context, string) (int, error) { return 0, nil }

// logOutput is the log's output: its lines and how many Writes brought them.
type logOutput struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (o *logOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	return o.buf.Write(p)
}

func (o *logOutput) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Split(strings.TrimSuffix(o.buf.String(), "\n"), "\n")
}

func submitPDU(seq uint32, dest string) []byte {
	return pdu.Append(nil, pdu.PDU{Header: pdu.Header{Command: pdu.CmdSubmitSM, Sequence: seq}, Body: &pdu.SubmitSM{SM: pdu.SM{
		Source: pdu.Address{TON: 5, Addr: "SENDER"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: dest}, ShortMessage: "hello",
	}}})
}

// readResponse reads one PDU from the server.
func readResponse(t *testing.T, conn net.Conn) (pdu.PDU, error) {
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

// TestInlineAnswersAreCountedAndLoggedOncePerRead: every submit answered
// on a session's reader is counted, observed in the processing-time
// histogram and logged, in the same line as an answer given on a worker,
// however the session ends; and the reader's answers take one clock
// reading and one log Write per read, not one per answer.
func TestInlineAnswersAreCountedAndLoggedOncePerRead(t *testing.T) {
	badFrame := []byte{0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9} // command_length 3: the reader stops
	for _, tc := range []struct {
		name     string
		rejected int    // live numbers, answered on the reader
		accepted int    // numbers looked up on a worker
		end      string // how the session ends: "hangup" (the client's EOF right after the submits), "bad frame" (in the same write as the submits), "close" (the client, once answered)
	}{
		{"inline answers, the client hangs up", 40, 0, "hangup"},
		{"inline answers, a bad frame stops the reader", 40, 0, "bad frame"},
		{"inline and worker answers", 40, 5, "close"},
		{"one inline answer", 1, 0, "close"},
		{"worker answers only", 0, 5, "close"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var nows atomic.Int64
			out := &logOutput{}
			logger, err := logging.New(out, "INFO", "json")
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			h, err := New(Options{Lookuper: memoryHLR{}, Receipts: noReceipts{}, IDs: NewIDs(1, time.Now), Workers: 2,
				Now: func() time.Time { nows.Add(1); return time.Now() }, Logger: logger, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			srv, conn := serveOneClient(t, h)
			// Every submit in one write: the reader reads them in one read,
			// or a few.
			var burst []byte
			dests := map[string]string{} // destination: the event of its line
			seq := uint32(2)
			for i := range tc.rejected {
				d := fmt.Sprintf("1999%07d", i)
				burst = append(burst, submitPDU(seq, d)...)
				dests[d] = "submit.rejected"
				seq++
			}
			for i := range tc.accepted {
				d := fmt.Sprintf("4099%07d", i)
				burst = append(burst, submitPDU(seq, d)...)
				dests[d] = "submit.accepted"
				seq++
			}
			if tc.end == "bad frame" {
				burst = append(burst, badFrame...)
			}
			if _, err := conn.Write(burst); err != nil {
				t.Fatal(err)
			}
			if tc.end == "hangup" {
				_ = conn.(*net.TCPConn).CloseWrite()
			}
			answers := 0
			for tc.end == "hangup" {
				// The session closes at the client's EOF; the answers
				// not written by then are not (the lines must be).
				if _, err := readResponse(t, conn); err != nil {
					break
				}
			}
			for tc.end != "hangup" && answers < len(dests) {
				p, err := readResponse(t, conn)
				if err != nil {
					t.Fatalf("after %d answers: %v", answers, err)
				}
				if p.Command == pdu.CmdSubmitSMResp {
					answers++
				}
			}
			stopServing(t, srv, h, conn)

			got := map[string]string{}
			lines := out.lines()
			if len(dests) == 0 {
				lines = nil
			}
			for _, line := range lines {
				var f struct {
					Timestamp, Event, Destination string
				}
				if err := json.Unmarshal([]byte(line), &f); err != nil {
					t.Fatalf("%v: %q", err, line)
				}
				if _, dup := got[f.Destination]; dup {
					t.Errorf("two lines for %s", f.Destination)
				}
				got[f.Destination] = f.Event
				// The same bytes as the line of one answer.
				ts, err := time.Parse(time.RFC3339Nano, f.Timestamp)
				if err != nil {
					t.Fatal(err)
				}
				d := decision{status: pdu.StatusInvDstAdr, detail: "valid"}
				if f.Event == "submit.accepted" {
					d = decision{err: "001", reason: ReasonInvalidNumber, detail: "unknown_subscriber"}
				}
				var want bytes.Buffer
				l, _ := logging.New(&want, "INFO", "json")
				_, level := submitEvent(d.status)
				id := ""
				if f.Event == "submit.accepted" {
					var mf struct {
						MessageID string `json:"message_id"`
					}
					_ = json.Unmarshal([]byte(line), &mf)
					id = mf.MessageID
				}
				writeSubmitLine(logging.BeginAt(l, ts, level, f.Event), "alice", pdu.CmdSubmitSM, d, id, "SENDER", f.Destination, 5)
				if want.String() != line+"\n" {
					t.Errorf("line\n%s\nwant\n%s", line, want.String())
				}
			}
			if len(got) != len(dests) {
				t.Errorf("%d lines for %d answers", len(got), len(dests))
			}
			for d, ev := range dests {
				if got[d] != ev {
					t.Errorf("%s: event %q, want %q", d, got[d], ev)
				}
			}

			observed, outcomes := gatherSubmits(t, reg)
			if observed != uint64(len(dests)) {
				t.Errorf("histogram counted %d answers, want %d", observed, len(dests))
			}
			if outcomes["rejected"] != float64(tc.rejected) || outcomes["accepted"] != float64(tc.accepted) || outcomes["failed"] != 0 {
				t.Errorf("submit_total %v, want %d rejected, %d accepted", outcomes, tc.rejected, tc.accepted)
			}
			// One clock reading and one Write per worker answer, one each
			// per read for the reader's; a read brings many.
			if most := int64(tc.accepted + max(1, tc.rejected/4)); tc.rejected > 0 && nows.Load() > most {
				t.Errorf("%d clock readings for %d inline and %d worker answers", nows.Load(), tc.rejected, tc.accepted)
			}
			if most := tc.accepted + max(1, tc.rejected/4); tc.rejected > 0 && out.writes > most {
				t.Errorf("%d log writes for %d inline and %d worker answers", out.writes, tc.rejected, tc.accepted)
			}
		})
	}
}

// serveOneClient serves h on 127.0.0.1 and binds one raw transmitter of
// the account alice to it.
func serveOneClient(t *testing.T, h *Handler) (*smpp.Server, net.Conn) {
	t.Helper()
	srv, err := smpp.NewServer(smpp.Options{Handler: h, Auth: smpp.NewAccounts([]smpp.Account{{SystemID: "alice", Password: "pw"}}),
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
func stopServing(t *testing.T, srv *smpp.Server, h *Handler, conn net.Conn) {
	t.Helper()
	_ = conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil { // every reader has ended
		t.Fatal(err)
	}
	h.Close(ctx)
}

// countedReceipts are noReceipts whose PendingCount is pending.
type countedReceipts struct {
	noReceipts
	pending atomic.Int64
	asked   atomic.Int64
}

func (c *countedReceipts) PendingCount(context.Context, string) (int, error) {
	c.asked.Add(1)
	return int(c.pending.Load()), nil
}

// TestPendingCapOnTheReader: a session's reader asks the account's cap
// once, and refuses a submit with ESME_RMSGQFUL from the moment the
// account's count reaches it, before any lookup, as before.
func TestPendingCapOnTheReader(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limit   int
		pending []int64 // the count before each submit
		want    []pdu.Status
	}{
		{"no cap", 0, []int64{0, 5, 5}, []pdu.Status{pdu.StatusInvDstAdr, pdu.StatusInvDstAdr, pdu.StatusInvDstAdr}},
		{"under, at, over, under the cap", 3, []int64{2, 3, 4, 2},
			[]pdu.Status{pdu.StatusInvDstAdr, pdu.StatusMsgQFul, pdu.StatusMsgQFul, pdu.StatusInvDstAdr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var capAsked atomic.Int64
			rc := &countedReceipts{}
			h, err := New(Options{Lookuper: memoryHLR{}, Receipts: rc, IDs: NewIDs(1, time.Now), Workers: 1,
				PendingCap: func(sys string) int {
					capAsked.Add(1)
					if sys != "alice" {
						t.Errorf("cap of %q", sys)
					}
					return tc.limit
				}, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			srv, conn := serveOneClient(t, h)
			for i, pending := range tc.pending {
				rc.pending.Store(pending)
				if _, err := conn.Write(submitPDU(uint32(i+2), "19990000001")); err != nil {
					t.Fatal(err)
				}
				p, err := readResponse(t, conn)
				if err != nil {
					t.Fatal(err)
				}
				if p.Status != tc.want[i] {
					t.Errorf("submit %d with %d pending: %v, want %v", i, pending, p.Status, tc.want[i])
				}
			}
			stopServing(t, srv, h, conn)
			if capAsked.Load() != 1 {
				t.Errorf("the cap was asked %d times, want once", capAsked.Load())
			}
			if want := int64(len(tc.pending)); tc.limit > 0 && rc.asked.Load() != want {
				t.Errorf("the count was asked %d times, want %d", rc.asked.Load(), want)
			}
		})
	}
}

// gatherSubmits returns submit_processing_seconds' sample count and
// submit_total by status.
func gatherSubmits(t *testing.T, reg *prometheus.Registry) (uint64, map[string]float64) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var observed uint64
	outcomes := map[string]float64{}
	for _, mf := range mfs {
		switch mf.GetName() {
		case "submit_processing_seconds":
			observed = mf.GetMetric()[0].GetHistogram().GetSampleCount()
		case "submit_total":
			for _, m := range mf.GetMetric() {
				outcomes[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	return observed, outcomes
}
