package system

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// receipts counts the receipts a client got, by receipted_message_id.
type receipts struct {
	mu    sync.Mutex
	byID  map[string]int
	first map[string]time.Time
	total int
	last  time.Time
}

func newReceipts() *receipts { return &receipts{byID: map[string]int{}, first: map[string]time.Time{}} }

func (r *receipts) onDeliver(d *pdu.DeliverSM) pdu.Status {
	id, _ := d.TLVs.CString(pdu.TagReceiptedMessageID)
	r.mu.Lock()
	now := time.Now()
	if r.byID[id] == 0 {
		r.first[id] = now
	}
	r.byID[id]++
	r.total++
	r.last = now
	r.mu.Unlock()
	return pdu.StatusOK
}

// counts returns distinct ids, deliveries, and deliveries beyond the first
// of an id (duplicates).
func (r *receipts) counts() (distinct, total, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID), r.total, r.total - len(r.byID)
}

// missing counts the ids of want with no receipt yet.
func (r *receipts) missing(want map[string]bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id := range want {
		if r.byID[id] == 0 {
			n++
		}
	}
	return n
}

// unexpected lists receipt ids not in want.
func (r *receipts) unexpected(want map[string]bool) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range r.byID {
		if !want[id] {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// lastFirst is when the last of ids got its first receipt.
func (r *receipts) lastFirst(ids map[string]bool) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	for id := range ids {
		if at := r.first[id]; at.After(last) {
			last = at
		}
	}
	return last
}

func (r *receipts) lastAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// waitAll waits until every id of want has a receipt; it returns how many
// are still missing.
func (r *receipts) waitAll(want map[string]bool, d time.Duration) int {
	waitFor(d, func() bool { return r.missing(want) == 0 })
	return r.missing(want)
}

// dial binds testuser in mode; rc (may be nil) records receipts.
func dial(t *testing.T, addr string, mode pdu.CommandID, rc *receipts) *esme.Client {
	t.Helper()
	cfg := esme.Config{Addr: addr, SystemID: "testuser", Password: "testpass", Bind: mode}
	if rc != nil {
		cfg.OnDeliver = rc.onDeliver
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("bind %s to %s: %v", mode, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func submitSM(dest string) *pdu.SubmitSM {
	return &pdu.SubmitSM{SM: pdu.SM{
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: "SYSTEST"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: dest},
		RegisteredDelivery: 1,
		ShortMessage:       "x",
	}}
}

// invalidNumbers returns n distinct numbers the simulator calls invalid
// (prefix 4099), starting at base.
func invalidNumbers(base, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("4099%08d", base+i)
	}
	return out
}

type submitResult struct {
	status pdu.Status
	id     string
	err    error
	at     time.Time // the response arrived
	sent   time.Time // the submit_sm was sent (set by loadRun only)
}

// submitAll sends one submit_sm per destination with at most window in
// flight, one every pace (0: as fast as the window allows), and waits up
// to d for every response. It fails the test if a response is missing.
func submitAll(t *testing.T, c *esme.Client, dests []string, window int, pace, d time.Duration) []submitResult {
	t.Helper()
	res := make([]submitResult, len(dests))
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i, dest := range dests {
		if pace > 0 {
			if w := time.Until(start.Add(time.Duration(i) * pace)); w > 0 {
				time.Sleep(w)
			}
		}
		select {
		case sem <- struct{}{}:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("submit window stuck after %d of %d submits", i, len(dests))
		}
		wg.Add(1)
		c.SendAsync(submitSM(dest), func(p pdu.PDU, err error) {
			r := submitResult{err: err, at: time.Now()}
			if err == nil {
				r.status = p.Status
				if b, ok := p.Body.(*pdu.SubmitSMResp); ok {
					r.id = b.MessageID
				}
			}
			res[i] = r
			<-sem
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("not every submit_sm was answered within %v", d)
	}
	return res
}

// tally counts results by status (errors as "error: …").
func tally(res []submitResult) map[string]int {
	m := map[string]int{}
	for _, r := range res {
		if r.err != nil {
			m["error: "+r.err.Error()]++
			continue
		}
		m[r.status.String()]++
	}
	return m
}

func fmtTally(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// acceptedIDs returns the message ids of the ESME_ROK answers; it fails on
// a repeated id.
func acceptedIDs(t *testing.T, res []submitResult) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, r := range res {
		if r.err == nil && r.status == pdu.StatusOK {
			if ids[r.id] {
				t.Fatalf("message id %s given twice", r.id)
			}
			ids[r.id] = true
		}
	}
	return ids
}
