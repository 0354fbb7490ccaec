package system

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// account is one ESME login of the accounts file the topology tests give
// both gateways.
type account struct{ sys, pass string }

// writeAccounts writes the accounts file and returns its path.
func writeAccounts(t *testing.T, accts []account) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("accounts:\n")
	for _, a := range accts {
		fmt.Fprintf(&b, "  - system_id: %s\n    password: %s\n", a.sys, a.pass)
	}
	p := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dialAs binds a as mode to addr; rc (may be nil) records receipts.
func dialAs(t *testing.T, addr string, a account, mode pdu.CommandID, rc *receipts) *esme.Client {
	t.Helper()
	cfg := esme.Config{Addr: addr, SystemID: a.sys, Password: a.pass, Bind: mode, ResponseTimeout: 15 * time.Second}
	if rc != nil {
		cfg.OnDeliver = rc.onDeliver
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("bind %s as %s to %s: %v", a.sys, mode, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// loadRun is one account's paced submits; it runs beside the test's fault
// and never touches t.
type loadRun struct {
	acct    account
	rc      *receipts
	mu      sync.Mutex
	results []submitResult
}

// pace sends one submit_sm per destination every pace, with at most window
// in flight, and waits up to d after the last for every response; a
// missing response is recorded as an error.
func (l *loadRun) pace(c *esme.Client, dests []string, pace time.Duration, window int, d time.Duration) {
	sem := make(chan struct{}, window)
	var wg sync.WaitGroup
	res := make([]submitResult, len(dests))
	start := time.Now()
	for i, dest := range dests {
		if w := time.Until(start.Add(time.Duration(i) * pace)); w > 0 {
			time.Sleep(w)
		}
		select {
		case sem <- struct{}{}:
		case <-time.After(d):
			res[i] = submitResult{err: fmt.Errorf("window stuck"), at: time.Now()}
			continue
		}
		wg.Add(1)
		sent := time.Now()
		// Until its response comes, a submit counts as unanswered (not as
		// a status 0, which is ESME_ROK).
		l.mu.Lock()
		res[i] = submitResult{err: errNoResponse, sent: sent}
		l.mu.Unlock()
		c.SendAsync(submitSM(dest), func(p pdu.PDU, err error) {
			r := submitResult{err: err, at: time.Now(), sent: sent}
			if err == nil {
				r.status = p.Status
				if b, ok := p.Body.(*pdu.SubmitSMResp); ok {
					r.id = b.MessageID
				}
			}
			l.mu.Lock()
			res[i] = r
			l.mu.Unlock()
			<-sem
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
	l.mu.Lock()
	l.results = append([]submitResult(nil), res...) // late answers keep writing res
	l.mu.Unlock()
}

var errNoResponse = errors.New("no response")

// accepted returns the ids answered ESME_ROK whose answer arrived in
// [from, to) (zero times: unbounded).
func (l *loadRun) accepted(from, to time.Time) map[string]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := map[string]bool{}
	for _, r := range l.results {
		if r.err != nil || r.status != pdu.StatusOK {
			continue
		}
		if (!from.IsZero() && r.at.Before(from)) || (!to.IsZero() && !r.at.Before(to)) {
			continue
		}
		ids[r.id] = true
	}
	return ids
}

// tally counts the answers whose submit was sent in [from, to).
func (l *loadRun) tally(from, to time.Time) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in []submitResult
	for _, r := range l.results {
		if (!from.IsZero() && r.sent.Before(from)) || (!to.IsZero() && !r.sent.Before(to)) {
			continue
		}
		in = append(in, r)
	}
	return tally(in)
}

// firstAfter is when the first receipt that arrived after at arrived
// (zero if none).
func (r *receipts) firstAfter(at time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, f := range r.first {
		if f.After(at) && (first.IsZero() || f.Before(first)) {
			first = f
		}
	}
	return first
}

// between counts the ids whose first receipt arrived in (from, to).
func (r *receipts) between(from, to time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.first {
		if f.After(from) && f.Before(to) {
			n++
		}
	}
	return n
}

// dialWith binds a as mode to addr with onDeliver answering deliver_sm.
func dialWith(t *testing.T, addr string, a account, mode pdu.CommandID, onDeliver func(*pdu.DeliverSM) pdu.Status) *esme.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: a.sys, Password: a.pass, Bind: mode, OnDeliver: onDeliver})
	if err != nil {
		t.Fatalf("bind %s as %s to %s: %v", a.sys, mode, addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
