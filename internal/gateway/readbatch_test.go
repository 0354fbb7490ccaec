package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

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
			h, err := New(Options{Lookuper: newMemoryHLR(), Receipts: noReceipts{}, IDs: NewIDs(1, time.Now), Workers: 2,
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

// TestPendingCapOnTheReader: a submit is refused with ESME_RMSGQFUL,
// before any lookup, from the moment the account's count reaches the cap
// in its settings, and a reload that changes the cap applies to the bound
// session at once.
func TestPendingCapOnTheReader(t *testing.T) {
	type step struct {
		limit   int   // the account's cap, reloaded before the submit when it changed
		pending int64 // the count before the submit
		want    pdu.Status
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"no cap", []step{{0, 0, pdu.StatusInvDstAdr}, {0, 5, pdu.StatusInvDstAdr}}},
		{"under, at, over, under the cap", []step{
			{3, 2, pdu.StatusInvDstAdr}, {3, 3, pdu.StatusMsgQFul}, {3, 4, pdu.StatusMsgQFul}, {3, 2, pdu.StatusInvDstAdr}}},
		{"a reload raises, lowers and lifts the cap", []step{
			{3, 3, pdu.StatusMsgQFul}, {10, 3, pdu.StatusInvDstAdr}, {2, 3, pdu.StatusMsgQFul}, {0, 3, pdu.StatusInvDstAdr}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := &countedReceipts{}
			h, err := New(Options{Lookuper: newMemoryHLR(), Receipts: rc, IDs: NewIDs(1, time.Now), Workers: 1,
				Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			account := func(limit int) []smpp.Account {
				return []smpp.Account{{SystemID: "alice", Password: "pw", MaxPending: limit}}
			}
			accounts := smpp.NewAccounts(account(tc.steps[0].limit))
			srv, conn := serveOneClientAs(t, h, accounts)
			limit := tc.steps[0].limit
			var capped int64
			for i, st := range tc.steps {
				if st.limit != limit {
					if res := accounts.Replace(account(st.limit)); len(res.Changed) != 1 {
						t.Fatalf("reload to cap %d: %+v", st.limit, res)
					}
					limit = st.limit
				}
				if limit > 0 {
					capped++
				}
				rc.pending.Store(st.pending)
				if _, err := conn.Write(submitPDU(uint32(i+2), "19990000001")); err != nil {
					t.Fatal(err)
				}
				p, err := readResponse(t, conn)
				if err != nil {
					t.Fatal(err)
				}
				if p.Status != st.want {
					t.Errorf("submit %d with cap %d and %d pending: %v, want %v", i, limit, st.pending, p.Status, st.want)
				}
			}
			stopServing(t, srv, h, conn)
			if rc.asked.Load() != capped {
				t.Errorf("the count was asked %d times, want %d (once per submit under a cap)", rc.asked.Load(), capped)
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
